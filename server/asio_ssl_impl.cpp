// The compiled part of Asio's SSL support, built once for the targets that link jobs_asio_ssl
// (jobsd and the TLS test client), so the rest never needs OpenSSL's libssl.
#include <boost/asio/ssl/impl/src.hpp>

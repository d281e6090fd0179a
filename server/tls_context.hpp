// TLS for the listener: the OpenSSL context built once from tls_options, and the stream type a
// TLS session runs over (Beast's SSL stream on the same timed TCP stream plain HTTP uses).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "server/config.hpp"

namespace jobsd::server {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Loads the certificate chain and the private key, checks that they match, and sets the lowest
// protocol version. Throws config_error naming the file at fault: bad TLS configuration stops
// startup. Thread safety: the returned context is only read once built, and OpenSSL allows
// sessions on every io thread to be created from it at once.
boost::asio::ssl::context make_tls_context(const tls_options& options);

}  // namespace jobsd::server

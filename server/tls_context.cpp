// Every failure names the config key and the file, since "no start line" alone tells an
// operator nothing about which of two PEM files is wrong.
#include "server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fstream>
#include <string>

namespace jobsd::server {

namespace ssl = boost::asio::ssl;

namespace {

// A file that cannot be opened gets a plainer message than OpenSSL's.
void require_readable(const std::string& key, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(key + " " + path + ": cannot be read");
}

}  // namespace

ssl::context make_tls_context(const tls_options& options) {
    ssl::context ctx(ssl::context::tls_server);
    // Compression (CRIME) and client-initiated renegotiation (a CPU lever for a client) are off.
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                    ssl::context::single_dh_use | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    const int min_version = options.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx.native_handle(), min_version) != 1)
        throw config_error("tls.min_version " + options.min_version + ": not supported by this OpenSSL");
    // An encrypted key would make OpenSSL prompt on the terminal; with an empty passphrase it
    // fails instead, and the message below says so.
    ctx.set_password_callback([](std::size_t, ssl::context::password_purpose) { return std::string(); });

    require_readable("tls.certificate_file", options.certificate_file);
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(options.certificate_file, ec);
    if (ec)
        throw config_error("tls.certificate_file " + options.certificate_file +
                           ": not a PEM certificate chain (" + ec.message() + ")");
    require_readable("tls.private_key_file", options.private_key_file);
    ctx.use_private_key_file(options.private_key_file, ssl::context::pem, ec);
    // OpenSSL compares the key with the certificate as it loads it.
    const auto code = static_cast<unsigned long>(ec.value());
    if ((ec && ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) ||
        (!ec && SSL_CTX_check_private_key(ctx.native_handle()) != 1))
        throw config_error("tls.private_key_file " + options.private_key_file +
                           " does not match the certificate in tls.certificate_file " +
                           options.certificate_file);
    if (ec)
        throw config_error("tls.private_key_file " + options.private_key_file +
                           ": not an unencrypted PEM private key (" + ec.message() + ")");
    return ctx;
}

}  // namespace jobsd::server

// A small blocking HTTPS/1.1 client over one keep-alive TLS connection, for black-box tests. It
// verifies the server against one trusted certificate and reports exactly what came back.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "tests/support/http_client.hpp"

namespace jobsd::test {

// Thread safety: none; one client per thread. Each client owns its io_context.
class https_client {
  public:
    // Does not connect yet; the first request does. The server's certificate must chain to
    // `trusted_certificate` (PEM) and name `host`.
    https_client(std::string host, unsigned short port, const std::filesystem::path& trusted_certificate,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~https_client();
    https_client(const https_client&) = delete;
    https_client& operator=(const https_client&) = delete;

    // Connects and completes the handshake now. Throws boost::system::system_error on failure
    // (a certificate that does not verify among them).
    void connect();

    // Sends one request (connecting first when there is no connection) and reads the answer.
    // Keeps the connection when the answer allows keep-alive. Throws boost::system::system_error
    // on any failure or timeout, after closing the connection.
    http_response request(boost::beast::http::verb method, std::string_view target,
                          const header_list& headers = {}, std::string body = {});
    http_response get(std::string_view target, std::string_view api_key = {});
    http_response post(std::string_view target, std::string_view api_key, std::string body);

    // For limit tests: writes `bytes` as they are on the current connection (connecting first),
    // then waits up to `wait` for the server to end it. True when it did; anything the server
    // sent meanwhile is dropped. The connection is closed afterwards either way.
    bool send_and_wait_for_close(std::string_view bytes, std::chrono::milliseconds wait);

    // For streams (Server-Sent Events): writes `bytes` as they are (none when empty), then reads
    // raw until `needle` has arrived or `wait` passed, and returns everything read. The
    // connection stays open unless it failed or timed out.
    std::string send_and_read_until(std::string_view bytes, std::string_view needle,
                                    std::chrono::milliseconds wait);

    std::size_t connections_opened() const { return connections_opened_; }
    bool connected() const { return stream_.has_value(); }
    // Sends close_notify (bounded by the timeout) and closes.
    void close();
    // Closes the TCP connection without close_notify: how a client leaves a stream the server
    // only writes to (it would not answer close_notify before its next write).
    void abort();

  private:
    void run();
    void write_raw(std::string_view bytes, boost::system::error_code& ec);
    void read_raw(std::string& into, std::string_view until, std::chrono::milliseconds wait,
                  boost::system::error_code& ec);

    std::string host_;
    unsigned short port_;
    std::chrono::milliseconds timeout_;
    boost::asio::io_context ioc_;
    boost::asio::ssl::context tls_;
    // A TLS stream cannot be reused after it closed: one per connection.
    std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> stream_;
    boost::beast::flat_buffer buffer_;
    std::size_t connections_opened_ = 0;
};

}  // namespace jobsd::test

// A small blocking HTTP/1.1 client over one keep-alive connection, for black-box tests.
// It reports exactly what the server sent: no retries, no redirects, no reconnects behind a failure.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobsd::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_response {
    unsigned status = 0;
    boost::beast::http::fields headers;
    std::string body;

    // The body parsed as JSON. Throws std::runtime_error quoting the body when it is not JSON,
    // so a test failure shows what came back instead of a bare parse error.
    boost::json::value json() const;

    // The value of header `name` (case-insensitive), or "" when absent.
    std::string header(std::string_view name) const;
};

// A keep-alive HTTP/1.1 request as the black-box clients send it (plain and TLS alike).
boost::beast::http::request<boost::beast::http::string_body> make_request(
    boost::beast::http::verb method, std::string_view target, const header_list& headers, std::string body,
    const std::string& host, unsigned short port);

// Thread safety: none; one client per thread. Each client owns its io_context.
class http_client {
  public:
    // Does not connect yet; the first request does.
    http_client(std::string host, unsigned short port,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // Sends one request on the current connection (opening one if there is none) and reads the
    // whole response. `headers` are set after the defaults (Host, User-Agent), so they may
    // override them; Content-Length is always computed from `body`.
    // The connection is kept when the response allows keep-alive and closed otherwise.
    // Throws boost::system::system_error on connect/write/read failure or timeout; the
    // connection is closed then, so the next request opens a new one.
    http_response request(boost::beast::http::verb method, std::string_view target,
                          const header_list& headers = {}, std::string body = {});

    // GET with an `x-api-key` header unless `api_key` is empty.
    http_response get(std::string_view target, std::string_view api_key = {});

    // POST with `x-api-key` (unless empty) and the given Content-Type (none when empty).
    http_response post(std::string_view target, std::string_view api_key, std::string body,
                       std::string_view content_type = "application/json");

    // How many TCP connections this client has opened; keep-alive tests expect 1.
    std::size_t connections_opened() const { return connections_opened_; }
    bool connected() const;
    void close();

  private:
    void connect();
    // Runs the io_context until its queued operations finish or the stream's timeout fires.
    void run();

    std::string host_;
    unsigned short port_;
    std::chrono::milliseconds timeout_;
    boost::asio::io_context ioc_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::size_t connections_opened_ = 0;
};

}  // namespace jobsd::test

// Blocking HTTP/1.1 client built on Beast's asynchronous operations, driven by a private
// io_context so that every operation honours the tcp_stream timeout.
#include "tests/support/http_client.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>

#include <stdexcept>

#include "model/strict_json.hpp"

namespace jobsd::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using boost::system::error_code;

boost::json::value http_response::json() const {
    error_code ec;
    // A job's answer holds its input a level or two down: as deep as a message between jobsd
    // and its workers, not only as deep as a body the API accepts.
    auto value = boost::json::parse(body, ec, {}, jobsd::model::message_parse_options());
    if (ec) {
        throw std::runtime_error("response body is not JSON (" + ec.message() + "), status " +
                                 std::to_string(status) + ": " + body);
    }
    return value;
}

std::string http_response::header(std::string_view name) const {
    auto it = headers.find(beast::string_view(name.data(), name.size()));
    if (it == headers.end()) return {};
    return std::string(it->value());
}

http_client::http_client(std::string host, unsigned short port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout), stream_(ioc_) {}

http_client::~http_client() {
    close();
}

bool http_client::connected() const {
    return stream_.socket().is_open();
}

void http_client::close() {
    error_code ignored;  // closing a half-dead socket can fail; there is nothing left to do
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    buffer_.consume(buffer_.size());
}

void http_client::run() {
    ioc_.restart();
    ioc_.run();
}

void http_client::connect() {
    close();
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host_), port_);
    error_code connect_ec;
    stream_.expires_after(timeout_);
    stream_.async_connect(endpoint, [&](error_code ec) { connect_ec = ec; });
    run();
    if (connect_ec) {
        close();
        throw boost::system::system_error(connect_ec, "connect to " + host_ + ":" + std::to_string(port_));
    }
    ++connections_opened_;
}

http::request<http::string_body> make_request(http::verb method, std::string_view target,
                                              const header_list& headers, std::string body,
                                              const std::string& host, unsigned short port) {
    http::request<http::string_body> req{method, beast::string_view(target.data(), target.size()), 11};
    req.set(http::field::host, host + ":" + std::to_string(port));
    req.set(http::field::user_agent, "jobsd-black-box-tests");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    return req;
}

http_response http_client::request(http::verb method, std::string_view target, const header_list& headers,
                                   std::string body) {
    if (!connected()) connect();

    auto req = make_request(method, target, headers, std::move(body), host_, port_);

    // Write and read run concurrently: a server may answer (413, 401) before it has read the
    // whole body and then close, and the answer must still be seen even if the write fails.
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    error_code write_ec;
    error_code read_ec;
    bool write_done = false;
    bool read_done = false;
    stream_.expires_after(timeout_);
    http::async_write(stream_, req, [&](error_code ec, std::size_t) {
        write_ec = ec;
        write_done = true;
    });
    http::async_read(stream_, buffer_, parser, [&](error_code ec, std::size_t) {
        read_ec = ec;
        read_done = true;
        // A complete answer while the request is still being written: the server does not
        // want the rest, so stop writing rather than wait for the timeout.
        if (!write_done) stream_.socket().cancel();
    });
    run();

    if (read_ec) {
        close();
        std::string what = "HTTP " + std::string(http::to_string(method)) + " " + std::string(target);
        if (write_ec) what += " (write failed too: " + write_ec.message() + ")";
        throw boost::system::system_error(read_ec, what);
    }

    auto res = parser.release();
    http_response out;
    out.status = res.result_int();
    out.headers = res.base();
    out.body = std::move(res.body());
    // A cancelled or failed write leaves the request half-sent: the connection cannot be reused.
    if (!res.keep_alive() || write_ec || !write_done) close();
    return out;
}

http_response http_client::get(std::string_view target, std::string_view api_key) {
    header_list headers;
    if (!api_key.empty()) headers.emplace_back("x-api-key", std::string(api_key));
    return request(http::verb::get, target, headers);
}

http_response http_client::post(std::string_view target, std::string_view api_key, std::string body,
                                std::string_view content_type) {
    header_list headers;
    if (!api_key.empty()) headers.emplace_back("x-api-key", std::string(api_key));
    if (!content_type.empty()) headers.emplace_back("Content-Type", std::string(content_type));
    return request(http::verb::post, target, headers, std::move(body));
}

}  // namespace jobsd::test

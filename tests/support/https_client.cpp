// Beast's asynchronous operations driven by a private io_context, so every step (connect,
// handshake, write, read, shutdown) honours the TCP stream's timeout.
#include "tests/support/https_client.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <functional>

namespace jobsd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;

https_client::https_client(std::string host, unsigned short port,
                           const std::filesystem::path& trusted_certificate,
                           std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout), tls_(ssl::context::tls_client) {
    tls_.load_verify_file(trusted_certificate.string());
    tls_.set_verify_mode(ssl::verify_peer);
}

https_client::~https_client() {
    close();
}

void https_client::run() {
    ioc_.restart();
    ioc_.run();
}

void https_client::connect() {
    close();
    stream_.emplace(ioc_, tls_);
    stream_->set_verify_callback(ssl::host_name_verification(host_));
    auto& tcp = beast::get_lowest_layer(*stream_);
    error_code ec;
    tcp.expires_after(timeout_);
    tcp.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address(host_), port_),
                      [&](error_code e) { ec = e; });
    run();
    if (!ec) {
        tcp.expires_after(timeout_);
        stream_->async_handshake(ssl::stream_base::client, [&](error_code e) { ec = e; });
        run();
    }
    if (ec) {
        stream_.reset();
        throw boost::system::system_error(ec, "TLS connect to " + host_ + ":" + std::to_string(port_));
    }
    ++connections_opened_;
}

void https_client::close() {
    if (!stream_) return;
    auto& tcp = beast::get_lowest_layer(*stream_);
    if (tcp.socket().is_open()) {
        tcp.expires_after(timeout_);
        stream_->async_shutdown([](error_code) {});  // the server may already be gone
        run();
    }
    tcp.close();
    stream_.reset();
    buffer_.consume(buffer_.size());
}

void https_client::abort() {
    if (!stream_) return;
    beast::get_lowest_layer(*stream_).close();
    stream_.reset();
    buffer_.consume(buffer_.size());
}

http_response https_client::request(http::verb method, std::string_view target, const header_list& headers,
                                    std::string body) {
    if (!stream_) connect();
    auto req = make_request(method, target, headers, std::move(body), host_, port_);

    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    error_code ec;
    auto& tcp = beast::get_lowest_layer(*stream_);
    tcp.expires_after(timeout_);
    http::async_write(*stream_, req, [&](error_code e, std::size_t) { ec = e; });
    run();
    if (!ec) {
        http::async_read(*stream_, buffer_, parser, [&](error_code e, std::size_t) { ec = e; });
        run();
    }
    if (ec) {
        abort();
        throw boost::system::system_error(
            ec, "HTTPS " + std::string(http::to_string(method)) + " " + std::string(target));
    }
    auto res = parser.release();
    http_response out;
    out.status = res.result_int();
    out.headers = res.base();
    out.body = std::move(res.body());
    if (!res.keep_alive()) close();
    return out;
}

void https_client::write_raw(std::string_view bytes, error_code& ec) {
    if (!stream_) connect();
    if (bytes.empty()) return;
    beast::get_lowest_layer(*stream_).expires_after(timeout_);
    asio::async_write(*stream_, asio::buffer(bytes.data(), bytes.size()),
                      [&](error_code e, std::size_t) { ec = e; });
    run();
}

void https_client::read_raw(std::string& into, std::string_view until, std::chrono::milliseconds wait,
                            error_code& ec) {
    // The stream's own timeout is the wait; an empty `until` reads until the connection ends.
    beast::get_lowest_layer(*stream_).expires_after(wait);
    char chunk[4096];
    std::function<void(error_code, std::size_t)> on_read = [&](error_code e, std::size_t n) {
        into.append(chunk, n);
        if (e) {
            ec = e;
            return;
        }
        if (!until.empty() && into.find(until) != std::string::npos) return;
        stream_->async_read_some(asio::buffer(chunk), on_read);
    };
    stream_->async_read_some(asio::buffer(chunk), on_read);
    run();
}

bool https_client::send_and_wait_for_close(std::string_view bytes, std::chrono::milliseconds wait) {
    error_code ec;
    write_raw(bytes, ec);
    std::string ignored;
    if (!ec) read_raw(ignored, {}, wait, ec);
    const bool closed = ec && ec != beast::error::timeout;
    abort();
    return closed;
}

std::string https_client::send_and_read_until(std::string_view bytes, std::string_view needle,
                                              std::chrono::milliseconds wait) {
    error_code ec;
    write_raw(bytes, ec);
    std::string text;
    if (!ec) read_raw(text, needle, wait, ec);
    if (ec) {
        abort();
    }
    return text;
}

http_response https_client::get(std::string_view target, std::string_view api_key) {
    header_list headers;
    if (!api_key.empty()) headers.emplace_back("x-api-key", std::string(api_key));
    return request(http::verb::get, target, headers);
}

http_response https_client::post(std::string_view target, std::string_view api_key, std::string body) {
    header_list headers{{"Content-Type", "application/json"}};
    if (!api_key.empty()) headers.emplace_back("x-api-key", std::string(api_key));
    return request(http::verb::post, target, headers, std::move(body));
}

}  // namespace jobsd::test

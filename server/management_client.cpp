// One connection per read: the view is cached for a second, so a kept-alive connection would
// save little and would need its own lifetime and locking.
#include "server/management_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <cctype>

#include "server/use_nothrow.hpp"

namespace jobsd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Value and error are both strings, so each side is named.
using fetch_result = boost::system::result<std::string, std::string>;
fetch_result fetch_error(std::string message) {
    return fetch_result(boost::system::in_place_error, std::move(message));
}

std::string percent_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

std::string base64_encode(std::string_view in) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        for (int shift : {18, 12, 6, 0}) out += alphabet[(v >> shift) & 63];
    }
    if (const auto rest = in.size() - i) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

boost::system::result<management_endpoint, std::string> parse_management_url(std::string_view url,
                                                                             std::string_view amqp_url) {
    auto u = boost::urls::parse_uri(url);
    if (!u || u->scheme() != "http" || u->host().empty())
        return {boost::system::in_place_error,
                "amqp.management_url must be an http://[user:pass@]host:port/ URL"};
    management_endpoint e;
    e.host = u->host();
    e.port = u->has_port() ? std::string(u->port()) : "80";
    if (u->has_userinfo()) e.authorization = "Basic " + base64_encode(u->user() + ":" + u->password());
    std::string prefix = u->path();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();

    // The vhost of the AMQP URL: its path without the leading slash, "/" when empty.
    std::string vhost = "/";
    if (auto a = boost::urls::parse_uri(amqp_url); a && a->path().size() > 1) vhost = a->path().substr(1);
    e.target = prefix + "/api/queues/" + percent_encode(vhost) +
               "?columns=name,messages,messages_ready,messages_unacknowledged,consumers";
    e.where = "http://" + e.host + ":" + e.port + prefix + "/";
    return e;
}

asio::awaitable<boost::system::result<std::string, std::string>> fetch_queue_list(
    const management_endpoint& endpoint, std::chrono::milliseconds timeout) {
    auto executor = co_await asio::this_coro::executor;
    const auto failed = [&](std::string_view what, const boost::system::error_code& ec) {
        return fetch_error(std::string(what) + " " + endpoint.where + ": " + ec.message());
    };
    asio::ip::tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, use_nothrow);
    if (rec) co_return failed("cannot resolve the management API at", rec);

    beast::tcp_stream stream(executor);
    stream.expires_after(timeout);  // one deadline for connect, write and read together
    auto [cec, ep] = co_await stream.async_connect(results, use_nothrow);
    if (cec) co_return failed("cannot connect to the management API at", cec);

    http::request<http::empty_body> req{http::verb::get, endpoint.target, 11};
    req.set(http::field::host, endpoint.host);
    req.set(http::field::accept, "application/json");
    if (!endpoint.authorization.empty()) req.set(http::field::authorization, endpoint.authorization);
    auto [wec, written] = co_await http::async_write(stream, req, use_nothrow);
    if (wec) co_return failed("cannot send to the management API at", wec);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);  // a vhost with thousands of queues is still a few MiB
    auto [rdec, read] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (rdec) co_return failed("no answer from the management API at", rdec);
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    auto& res = parser.get();
    if (res.result() != http::status::ok)
        co_return fetch_error("the management API at " + endpoint.where + " answered " +
                              std::to_string(res.result_int()) +
                              (res.result() == http::status::unauthorized
                                   ? " (check the user and password in amqp.management_url)"
                                   : ""));
    co_return fetch_result(boost::system::in_place_value, std::move(res.body()));
}

}  // namespace jobsd::server

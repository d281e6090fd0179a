// One row of the route table: a path pattern and method, who may call it, and its handler.
// Every route is declared in server/routes.cpp; adding one is a row there plus its handler.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "server/catalog_cache.hpp"
#include "server/config.hpp"
#include "server/http_types.hpp"
#include "server/rate_limiter.hpp"

namespace jobsd::server {

struct services;

// Who may call a route. Customer and operator keys live apart: neither opens the other's routes.
enum class access {
    anyone,        // health, readiness, metrics, the dashboard's static files
    customer_key,  // x-api-key of an account: its jobs, projects and events
    operator_key,  // x-api-key of an operator: queue view and dashboard data
};

// What admission learned about the caller, handed to the handler.
struct caller {
    std::string account_id;             // "" on routes without a customer key
    catalog_cache::snapshot catalog;    // the snapshot the key was checked against
    std::optional<rate_decision> rate;  // set by a route check that rate-limits
    std::string request_id;             // X-Request-Id: the client's, or one made here
};

// Everything a handler sees of one request.
struct request_context {
    const services& svc;
    const request& req;
    std::string_view target;  // the request target in origin form ("/path?query"), whatever form was sent
    std::string_view param;   // the pattern's `:name` segment, a view into the target ("" if none)
    const caller& who;
};

// The connection, taken over by a streaming route (Server-Sent Events). The session implements
// it for plain TCP and TLS; every write is bounded by the server's read timeout.
class event_stream {
  public:
    virtual ~event_stream() = default;
    // Called before the first write: from then on the request no longer counts as in flight
    // (shutdown does not wait for a stream).
    virtual void begin() = 0;
    virtual boost::asio::awaitable<boost::system::error_code> write(boost::asio::const_buffer data) = 0;
    // Calls `gone` once on the connection's executor when the client closes the connection (or
    // sends anything: a stream's client only listens), or when the connection ends. Once per
    // stream.
    virtual void on_close(std::function<void()> gone) = 0;
};

// A check of the header alone, before the body is read (content type, declared length, rate
// limits): a response refuses the request, nullopt lets it through.
using header_check = std::optional<response> (*)(const services&, const http::request_header<>&, caller&);
// A handler that answers. Expected outcomes (400, 404, 409) are responses; infrastructure
// failures throw (server/error_boundary.hpp) and are answered in one place.
using answer_handler = boost::asio::awaitable<response> (*)(const request_context&);
// A handler that streams: nullopt once it has taken the connection over and is done with it, or a
// response when it refuses the request before streaming.
using stream_handler = boost::asio::awaitable<std::optional<response>> (*)(const request_context&,
                                                                           event_stream&);

struct route {
    std::string_view name;  // the route's label in metrics
    http::verb method;
    // Literal segments, `:name` for one non-empty segment, `:name?` for an optional last one.
    std::string_view pattern;
    access who = access::anyone;
    header_check check = nullptr;
    answer_handler answer = nullptr;  // exactly one of answer and stream is set
    stream_handler stream = nullptr;
    // The route's largest body: server.body_limit unless the route has a setting of its own.
    std::size_t server_options::*body_limit = &server_options::body_limit;
    // Derived, at compile time for the constexpr table: the length of the pattern's literal
    // prefix (up to its first `:`), npos when it has no parameter, and the fewest parameter
    // segments a path it takes can fill (an optional last one may be absent). The router's fast
    // paths: a row is matched against the path only while it could still be among the best.
    std::size_t literal_size = pattern.find(':');
    int min_params = fewest_params(pattern);

    static constexpr int fewest_params(std::string_view p) {
        int n = 0;
        for (char c : p) n += c == ':';
        return n - (n > 0 && p.ends_with('?'));
    }
};

}  // namespace jobsd::server

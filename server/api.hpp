// The HTTP API as the session sees it: admission of a request from its header alone (route,
// key, the route's own header check), then dispatch of the whole request to the route's handler
// inside the error boundary. The session knows no route by name.
// Thread safety: one api object serves all io threads; it holds only the route table and
// references to thread-safe shared objects.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>

#include <optional>
#include <span>

#include "server/route.hpp"
#include "server/router.hpp"
#include "server/services.hpp"

namespace jobsd::server {

// What admission decided about one request.
struct admission {
    std::string_view target;  // the request target in origin form ("/path?query"), a view into the header
    route_match match;
    caller who;
    // A response to send at once (400, 404, 405, 401, 403, 429, 415, 413, 503), or nullopt: read the
    // body and call api::respond.
    std::optional<response> refusal;
};

class api {
  public:
    api(std::span<const route> table, const services& svc) : table_(table), svc_(svc) {}

    // Checks that need only the header run before the body is read, so refused traffic costs
    // little. The admission keeps views into `header`'s target: it must outlive them.
    admission admit(const http::request_header<>& header) const;

    // Runs the admitted route's handler. Nullopt when a streaming route took the connection over
    // (the session then ends it); otherwise the answer, a failure's included (never throws).
    boost::asio::awaitable<std::optional<response>> respond(const request& req, const admission& a,
                                                            event_stream& stream) const;

    // The largest body the request's route takes (server.body_limit when no route takes it).
    std::size_t body_limit(const http::request_header<>& header) const;

    // Shutdown has begun: requests read from now on are answered 503 and their connection closed.
    bool draining() const noexcept { return svc_.gate.draining(); }
    metrics& counters() const noexcept { return svc_.counters; }

  private:
    std::optional<response> authenticate(const route& r, const http::request_header<>& header,
                                         caller& who) const;

    std::span<const route> table_;
    const services& svc_;
};

}  // namespace jobsd::server

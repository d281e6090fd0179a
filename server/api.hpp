// The handlers of every route. Checks that need only the header (route, key, content type,
// declared length) run before the body is read, so refused traffic costs little.
// Thread safety: one api object serves all io threads; it holds only references to
// thread-safe shared objects.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>

#include <atomic>
#include <optional>
#include <string>

#include "queue/publisher.hpp"
#include "server/catalog_cache.hpp"
#include "server/config.hpp"
#include "server/http_types.hpp"
#include "server/metrics.hpp"
#include "server/notification_hub.hpp"
#include "server/operator_api.hpp"
#include "server/rate_limiter.hpp"
#include "server/router.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class api {
  public:
    // `publisher` may be null (publishing disabled): jobs then stay in the outbox.
    api(const server_options& options, store::store& store, catalog_cache& catalog, metrics& metrics,
        queue::publisher* publisher, notification_hub& hub, operator_api& operator_routes)
        : options_(options),
          store_(store),
          catalog_(catalog),
          metrics_(metrics),
          publisher_(publisher),
          hub_(hub),
          operator_(operator_routes),
          limiter_(options.rate_limit_per_second, options.rate_limit_burst > 0
                                                      ? options.rate_limit_burst
                                                      : 2 * options.rate_limit_per_second) {}

    // The outbox backlog as last measured (the app refreshes it every second); new jobs get 503
    // while it is past server.max_outbox_backlog.
    void set_outbox_backlog(std::uint64_t n) noexcept { outbox_backlog_.store(n, std::memory_order_relaxed); }

    // Shutdown has begun: requests read from now on are answered 503 and their connection closed.
    void start_draining() noexcept { draining_.store(true, std::memory_order_relaxed); }
    bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }

    // What the header check learned, handed on to handle().
    struct admitted {
        route_match match;
        std::string account_id;             // "" on routes without a key
        catalog_cache::snapshot catalog;    // the snapshot the key was checked against
        std::optional<rate_decision> rate;  // set on POST /jobs/v2 when rate limiting is on
        std::string request_id;             // X-Request-Id: the client's, or one made here
    };

    // A response to send at once (404, 405, 401, 415, 413), or nullopt to read the body and
    // call handle(). `target` must outlive the admitted value (it views into it).
    std::optional<response> check_header(const http::request_header<>& header, admitted& out) const;

    boost::asio::awaitable<response> handle(const request& req, admitted& a) const;

    // GET /jobs/v2/events: takes the connection over and streams Server-Sent Events until the
    // client goes away. Returns a response instead when the request is refused (400).
    std::optional<response> check_events_request(const request& req, std::string& session_id) const;
    // Instantiated for beast::tcp_stream and tls_stream (server/tls_context.hpp) only.
    template <class Stream>
    boost::asio::awaitable<void> stream_events(Stream& stream, const std::string& account_id,
                                               const std::string& session_id) const;

    metrics& counters() const { return metrics_; }

  private:
    boost::asio::awaitable<response> create_job(const request& req, const admitted& a) const;
    boost::asio::awaitable<response> get_job(const admitted& a) const;
    // The answer to a repeated Idempotency-Key: the original 201 again, or 422 for another body.
    response replay(const store::job_record& original, const std::string& request_hash) const;
    response active_projects(const admitted& a) const;
    response mapping_fields(const admitted& a) const;
    response healthz() const;
    response readyz() const;
    boost::asio::awaitable<response> metrics_page() const;

    const server_options& options_;
    store::store& store_;
    catalog_cache& catalog_;
    metrics& metrics_;
    queue::publisher* publisher_;
    notification_hub& hub_;
    operator_api& operator_;
    mutable rate_limiter limiter_;
    std::atomic<std::uint64_t> outbox_backlog_{0};
    std::atomic<bool> draining_{false};
};

}  // namespace jobsd::server

// Health reads only in-memory state; /metrics adds the outbox backlog (a store read) and the
// cached job counts. A store that cannot be read leaves its lines out rather than failing.
#include "server/handlers/health_routes.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include "model/clock.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The broker as the publisher sees it: "connected", "blocked" (a resource alarm: the broker
// reads nothing, jobs wait in the outbox), "down" or "disabled".
const char* broker_state(const services& svc) {
    if (!svc.publisher) return "disabled";
    const auto& p = svc.publisher->stats();
    if (!p.connected) return "down";
    return p.blocked ? "blocked" : "connected";
}

}  // namespace

asio::awaitable<response> healthz(const request_context& ctx) {
    json::object body{{"status", "ok"}};
    body["broker"] = broker_state(ctx.svc);
    body["store"] = ctx.svc.store.stats().available ? "ok" : "unavailable";
    co_return json_response(http::status::ok, json::serialize(body));
}

asio::awaitable<response> readyz(const request_context& ctx) {
    // Ready means a job posted now is committed and on its way: the store takes writes and the
    // broker takes messages. Not ready while shutting down either, so balancers move away first.
    const services& svc = ctx.svc;
    const auto backlog = svc.gate.outbox_backlog();
    const auto store = svc.store.stats();
    const std::string broker = broker_state(svc);
    json::array reasons;
    if (svc.gate.draining()) reasons.push_back("shutting down");
    if (!store.available)
        reasons.push_back("store unavailable: the database cannot be reached or failed a write");
    if (store.write_queue >= store.write_queue_max) reasons.push_back("store write queue is full");
    if (broker == "down")
        reasons.push_back(
            json::string("broker disconnected; " + std::to_string(backlog) + " jobs wait in the outbox"));
    if (broker == "blocked")
        reasons.push_back(json::string("broker blocked the connection (a resource alarm); " +
                                       std::to_string(backlog) + " jobs wait in the outbox"));
    if (svc.options.max_outbox_backlog > 0 && backlog > svc.options.max_outbox_backlog)
        reasons.push_back("outbox backlog past its bound");
    if (reasons.empty())
        co_return json_response(http::status::ok,
                                json::serialize(json::object{{"status", "ready"}, {"broker", broker}}));
    co_return json_response(
        http::status::service_unavailable,
        json::serialize(
            json::object{{"status", "not ready"}, {"broker", broker}, {"reasons", std::move(reasons)}}));
}

asio::awaitable<response> metrics_page(const request_context& ctx) {
    const services& svc = ctx.svc;
    auto [ec, outbox] =
        co_await store::async_read_outbox_stats(svc.store, store::outbox_detail::total, use_nothrow);
    if (ec) spdlog::warn("metrics: outbox stats unavailable: {}", ec.message());
    const auto jobs = co_await svc.operator_views.job_counts();
    const auto stuck = co_await svc.operator_views.stuck_counts();
    std::optional<store::webhook_stats> hooks;
    if (svc.hooks) {
        auto [wec, w] = co_await store::async_webhook<store::webhook_stats>(
            *svc.hooks, &store::webhook_store::read_webhook_stats, use_nothrow, model::now_ms());
        if (wec)
            spdlog::warn("metrics: webhook backlog unavailable: {}", wec.message());
        else
            hooks = w;
    }
    response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = svc.counters.render(svc.store.stats(), ec ? nullptr : &outbox, jobs ? &*jobs : nullptr,
                                     stuck ? &*stuck : nullptr, hooks ? &*hooks : nullptr);
    res.prepare_payload();
    co_return res;
}

}  // namespace jobsd::server::handlers

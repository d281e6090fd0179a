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

asio::awaitable<response> healthz(const request_context& ctx) {
    json::object body{{"status", "ok"}};
    if (ctx.svc.publisher)
        body["broker"] = ctx.svc.publisher->stats().connected ? "connected" : "down";
    else
        body["broker"] = "disabled";
    co_return json_response(http::status::ok, json::serialize(body));
}

asio::awaitable<response> readyz(const request_context& ctx) {
    // Ready means a job posted now is committed and on its way: the store takes writes and the
    // broker is connected. Not ready while shutting down either, so balancers move away first.
    const services& svc = ctx.svc;
    const auto backlog = svc.gate.outbox_backlog();
    json::array reasons;
    if (svc.gate.draining()) reasons.push_back("shutting down");
    if (const auto store = svc.store.stats(); store.write_queue >= store.write_queue_max)
        reasons.push_back("store write queue is full");
    if (svc.publisher && !svc.publisher->stats().connected)
        reasons.push_back(
            json::string("broker disconnected; " + std::to_string(backlog) + " jobs wait in the outbox"));
    if (svc.options.max_outbox_backlog > 0 && backlog > svc.options.max_outbox_backlog)
        reasons.push_back("outbox backlog past its bound");
    if (reasons.empty()) co_return json_response(http::status::ok, R"({"status":"ready"})");
    co_return json_response(
        http::status::service_unavailable,
        json::serialize(json::object{{"status", "not ready"}, {"reasons", std::move(reasons)}}));
}

asio::awaitable<response> metrics_page(const request_context& ctx) {
    const services& svc = ctx.svc;
    auto [ec, outbox] = co_await store::async_read_outbox_stats(svc.store, use_nothrow);
    if (ec) spdlog::warn("metrics: outbox stats unavailable: {}", ec.message());
    const auto jobs = co_await svc.operator_views.job_counts();
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
                                     hooks ? &*hooks : nullptr);
    res.prepare_payload();
    co_return res;
}

}  // namespace jobsd::server::handlers

// A failed sweep is logged and tried again at the next tick: nothing is lost, the rows wait.
// A full batch is followed by another sweep at once.
#include "server/lifecycle_sweeper.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

#include "model/clock.hpp"
#include "model/trace_context.hpp"
#include "server/use_nothrow.hpp"

namespace jobsd::server {

namespace asio = boost::asio;

asio::awaitable<void> lifecycle_sweeper::run(asio::io_context& ctx, const std::atomic<bool>& stopping) {
    asio::steady_timer timer(ctx);
    while (!stopping) {
        co_await sweep_once();
        timer.expires_after(options_.sweep_interval);
        co_await timer.async_wait(use_nothrow);
    }
}

asio::awaitable<store::sweep_request> lifecycle_sweeper::next_request() {
    store::sweep_request request{model::now_ms(), options_.sweep_batch, {}, 0, std::nullopt};
    const auto after = options_.unconsumed_expiry_after;
    if (!read_queues_ || after.count() == 0) co_return request;
    request.probe_deadline_ms = request.now_ms - after.count();
    const auto now = std::chrono::steady_clock::now();
    if (!overdue_ || now < next_look_) co_return request;
    // With the broker away its queues cannot be read: a look would only hold the sweep up for the
    // reader's timeouts, while the outbox's expiries and retries are due every sweep.
    if (publisher_ && !publisher_->stats().connected.load(std::memory_order_relaxed)) co_return request;
    next_look_ = now + std::max<std::chrono::milliseconds>(options_.sweep_interval, after / 2);
    auto view = co_await read_queues_();
    if (!view) co_return request;  // the broker is away: its queues are not known, nothing to add
    for (const auto& q : view->types) {
        const auto type = model::parse_job_type(q.job_type);
        if (type && q.consumers == 0) request.unconsumed.push_back(*type);
    }
    // A worker that takes a job later than the view's reading skips it, past its deadline.
    request.unconsumed_deadline_ms = std::min(view->read_at_ms, request.now_ms) - after.count();
    co_return request;
}

asio::awaitable<void> lifecycle_sweeper::sweep_once() {
    auto request = co_await next_request();
    for (;;) {
        request.now_ms = model::now_ms();
        auto [ec, sweep] = co_await store::async_sweep_lifecycle(store_, request, use_nothrow);
        if (ec) {
            spdlog::warn("lifecycle sweep failed, trying again at the next one: {}", ec.message());
            co_return;
        }
        overdue_ = sweep.overdue;
        for (const auto& e : sweep.expired) {
            spdlog::info("job {} expired before it left the outbox trace_id={}", e.event.uuid,
                         e.event.trace_id);
            hub_.publish(e.account_id, e.session_id, model::to_json(e.event, model::to_string(e.type)));
        }
        for (const auto& e : sweep.expired_unconsumed) {
            spdlog::info("job {} expired in its queue; no worker consumes job type {} trace_id={}",
                         e.event.uuid, model::to_string(e.type), e.event.trace_id);
            hub_.publish(e.account_id, e.session_id, model::to_json(e.event, model::to_string(e.type)));
        }
        counters_.count_expired_in_outbox(sweep.expired.size());
        counters_.count_expired_unconsumed(sweep.expired_unconsumed.size());
        if ((!sweep.expired.empty() || !sweep.expired_unconsumed.empty()) && expired_) expired_();
        for (auto& job : sweep.due) {
            spdlog::info("job {}: attempt {} is due trace_id={}", job.uuid, job.attempt,
                         model::trace_id_of(job.traceparent));
            if (publisher_) publisher_->submit(std::move(job), request.now_ms);  // claimed by this sweep
        }
        const auto n = options_.sweep_batch;
        if (sweep.expired.size() < n && sweep.due.size() < n && sweep.expired_unconsumed.size() < n)
            co_return;
    }
}

}  // namespace jobsd::server

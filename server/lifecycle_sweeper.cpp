// A failed sweep is logged and tried again at the next tick: nothing is lost, the rows wait.
// A full batch is followed by another sweep at once.
#include "server/lifecycle_sweeper.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>

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

asio::awaitable<void> lifecycle_sweeper::sweep_once() {
    for (;;) {
        const auto now = model::now_ms();
        auto [ec, sweep] =
            co_await store::async_sweep_lifecycle(store_, now, options_.sweep_batch, use_nothrow);
        if (ec) {
            spdlog::warn("lifecycle sweep failed, trying again at the next one: {}", ec.message());
            co_return;
        }
        for (const auto& e : sweep.expired) {
            spdlog::info("job {} expired before it left the outbox trace_id={}", e.event.uuid,
                         e.event.trace_id);
            hub_.publish(e.account_id, e.session_id, model::to_json(e.event, model::to_string(e.type)));
        }
        counters_.count_expired_in_outbox(sweep.expired.size());
        if (!sweep.expired.empty() && expired_) expired_();
        for (auto& job : sweep.due) {
            spdlog::info("job {}: attempt {} is due trace_id={}", job.uuid, job.attempt,
                         model::trace_id_of(job.traceparent));
            if (publisher_) publisher_->submit(std::move(job), now);  // claimed by this sweep
        }
        if (sweep.expired.size() < options_.sweep_batch && sweep.due.size() < options_.sweep_batch) co_return;
    }
}

}  // namespace jobsd::server

// A failed count or release is logged and tried again at the next tick: held jobs wait in the
// store meanwhile, nothing is lost. A release that filled the room is followed by the next count
// at once, so a fast fleet is not held to one window per interval; a count that took long (a
// large outbox) is not repeated sooner than 20 times what it took.
#include "server/job_release.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

#include "model/clock.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"

namespace jobsd::server {

namespace asio = boost::asio;

job_release::job_release(const lifecycle_options& options, const queue::amqp_options& amqp,
                         store::store& store, queue::publisher& publisher, metrics& counters)
    : options_(options), store_(store), publisher_(publisher), counters_(counters), reader_(amqp) {}

std::uint64_t job_release::room(const lane& l) const noexcept {
    const std::uint64_t used = l.ready + l.unpublished + l.admitted;
    return used >= options_.fair_window ? 0 : options_.fair_window - used;
}

void job_release::admit(model::job& job) {
    std::lock_guard lock(mu_);
    auto& l = lanes_[static_cast<std::size_t>(job.type)];
    if (!l.backlog && room(l) > 0) {
        ++l.admitted;
        return;
    }
    job.fair_key = l.order.next_tag(job.account_id, job.priority);
    l.backlog = l.look = true;
    ++l.holds;
    counters_.count_held();
}

asio::awaitable<void> job_release::run(asio::io_context& ctx, const std::atomic<bool>& stopping) {
    asio::steady_timer timer(ctx);
    auto next_look = std::chrono::steady_clock::now();
    while (!stopping) {
        tick_failed_ = false;
        if (const auto now = std::chrono::steady_clock::now(); now >= next_look) {
            // Jobs another instance held (and may no longer release: it died) are looked for too.
            std::lock_guard lock(mu_);
            for (auto& l : lanes_) l.look = true;
            next_look = now + look_interval;
        }
        // Between counts, releases go on from the last one: what was let through since is
        // counted on top of it (lane::admitted), so a paused count never overfills a queue.
        if (std::chrono::steady_clock::now() >= next_count_) counted_ = co_await read_counts();
        if (counted_) {
            bool filled = false;
            for (auto type : model::all_job_types) filled = co_await release(type) || filled;
            if (failing_ && !tick_failed_) spdlog::info("fair queue: counting and releasing again");
            failing_ = failing_ && tick_failed_;
            if (filled) {  // the window was filled: count again as soon as counting may (at once, usually)
                timer.expires_at(next_count_);
                co_await timer.async_wait(use_nothrow);
                continue;
            }
        }
        timer.expires_after(options_.fair_interval);
        co_await timer.async_wait(use_nothrow);
    }
}

// The outbox first, then the broker: a job published in between is counted twice (a smaller
// room for a moment), never missed. Jobs admitted before the outbox was read are in one of the
// two counts (committed before it, or confirmed since); those admitted later stay counted.
asio::awaitable<bool> job_release::read_counts() {
    std::array<std::uint64_t, model::all_job_types.size()> admitted_before{};
    {
        std::lock_guard lock(mu_);
        for (std::size_t i = 0; i < lanes_.size(); ++i) admitted_before[i] = lanes_[i].admitted;
    }
    // The count reads every unpublished row: a large backlog (the broker away) spaces the
    // next one out (outbox_count_pause), so that counting does not keep a reader busy.
    const auto asked = std::chrono::steady_clock::now();
    auto [ec, outbox] =
        co_await store::async_read_outbox_stats(store_, store::outbox_detail::by_type, use_nothrow);
    next_count_ =
        asked + outbox_count_pause(std::chrono::steady_clock::now() - asked, std::chrono::milliseconds(0));
    if (ec) co_return failed("cannot count the outbox: " + ec.message());
    auto view = co_await reader_.async_read(asio::use_awaitable);
    if (!view) co_return failed("cannot read the job queues: " + view.error());
    std::lock_guard lock(mu_);
    for (const auto& d : view->types) {
        const auto t = model::parse_job_type(d.job_type);
        if (!t) continue;
        const auto i = static_cast<std::size_t>(*t);
        auto& l = lanes_[i];
        l.ready = d.ready;
        l.unpublished = outbox.unpublished_by_type[i];
        l.admitted -= std::min(l.admitted, admitted_before[i]);
    }
    co_return true;
}

bool job_release::failed(const std::string& why) {
    if (!failing_) spdlog::warn("fair queue: {}; held jobs wait, tried again every interval", why);
    failing_ = tick_failed_ = true;
    return false;
}

asio::awaitable<bool> job_release::release(model::job_type type) {
    std::uint64_t want = 0, holds = 0;
    {
        std::lock_guard lock(mu_);
        const auto& l = lanes_[static_cast<std::size_t>(type)];
        if (!l.look) co_return false;
        want = std::min<std::uint64_t>(room(l), options_.sweep_batch);
        holds = l.holds;
    }
    if (want == 0) co_return false;
    // The release claims its jobs (PostgreSQL) from its transaction's start: the time the
    // publisher counts their lease from is taken no later than that.
    const auto now = model::now_ms();
    auto [ec, jobs] = co_await store::async_release_held(store_, type, want, use_nothrow);
    if (ec) {
        co_return failed("releasing " + std::string(model::to_string(type)) +
                         " jobs failed: " + ec.message());
    }
    spdlog::debug("fair queue: {} of {} {} jobs released", jobs.size(), want, model::to_string(type));
    {
        std::lock_guard lock(mu_);
        auto& l = lanes_[static_cast<std::size_t>(type)];
        l.admitted += jobs.size();
        if (!jobs.empty()) l.order.released(*jobs.back().fair_key);
        if (jobs.size() < want && l.holds == holds) l.backlog = l.look = false;  // none left, none held since
        l.order.prune();
    }
    counters_.count_released(jobs.size());
    for (auto& job : jobs) {
        job.fair_key.reset();
        publisher_.submit(std::move(job), now);  // claimed by the release
    }
    co_return jobs.size() == want;
}

}  // namespace jobsd::server

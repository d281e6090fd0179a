// The shared objects every handler may use, and the ingest gate that sheds load before a job is
// read. Built once by the app; handlers receive them by const reference.
// Thread safety: every member is thread-safe by construction (see each type); the gate's
// counters are relaxed atomics.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "model/lifecycle_policy.hpp"
#include "queue/control_publisher.hpp"
#include "queue/publisher.hpp"
#include "server/catalog_cache.hpp"
#include "server/config.hpp"
#include "server/job_release.hpp"
#include "server/metrics.hpp"
#include "server/notification_hub.hpp"
#include "server/operator_api.hpp"
#include "server/rate_limiter.hpp"
#include "server/webhooks/webhook_options.hpp"
#include "store/store.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::server {

namespace webhooks {
class webhook_dispatcher;  // server/webhooks/webhook_dispatcher.hpp
}

// Whether new jobs may come in: the per-account rate limit, the outbox backlog bound, shutdown.
class ingest_gate {
  public:
    explicit ingest_gate(const server_options& options)
        : limiter(options.rate_limit_per_second, options.rate_limit_burst > 0
                                                     ? options.rate_limit_burst
                                                     : 2 * options.rate_limit_per_second) {}

    // The outbox backlog as last measured (the app refreshes it every second, or less often
    // while counting takes long: outbox_count_pause); new jobs get 503 while it is past
    // server.max_outbox_backlog.
    void set_outbox_backlog(std::uint64_t n) noexcept { backlog_.store(n, std::memory_order_relaxed); }
    std::uint64_t outbox_backlog() const noexcept { return backlog_.load(std::memory_order_relaxed); }

    // Shutdown has begun: requests read from now on are answered 503 and their connection closed.
    void start_draining() noexcept { draining_.store(true, std::memory_order_relaxed); }
    bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }

    mutable rate_limiter limiter;

  private:
    std::atomic<std::uint64_t> backlog_{0};
    std::atomic<bool> draining_{false};
};

// The pause before the next count of the outbox, given how long the last one took, and at least
// `floor`. A count grows with the backlog: the fair queue's, per type, reads every unpublished
// job's row (157 ms at 336 000 rows here), the 503 gate's total only the outbox's own pages (0.5
// ms), so with the broker away for long either, counted every second (the gate) or every
// fair_interval (the fair queue), would take more and more of a reader thread and the CPU
// ingestion needs. At most a twentieth of a reader's time goes to each; the gate's bound is
// millions of jobs, and the fair queue's held jobs wait behind that backlog anyway, so a count a
// few seconds old serves both.
constexpr std::chrono::milliseconds outbox_count_pause(
    std::chrono::steady_clock::duration took,
    std::chrono::milliseconds floor = std::chrono::milliseconds(1000)) noexcept {
    return std::max(floor, 20 * std::chrono::ceil<std::chrono::milliseconds>(took));
}

struct services {
    const server_options& options;
    store::store& store;
    catalog_cache& catalog;
    metrics& counters;
    queue::publisher* publisher;  // null when publishing is off: jobs then stay in the outbox
    notification_hub& hub;
    operator_api& operator_views;
    ingest_gate& gate;
    const webhooks::webhook_options& hook_options;
    store::webhook_store* hooks;               // the store's endpoints and deliveries; null without
    webhooks::webhook_dispatcher* dispatcher;  // woken by redeliveries; null when webhooks.enabled is false
    const model::lifecycle_policy& lifecycle;  // retries, time to live and stuck bound per type
    queue::control_publisher* control;         // null when publishing is off: cancels wait in the store
    job_release* release;                      // null when publishing or the fair queue is off
};

}  // namespace jobsd::server

// Counters of the server, rendered in the Prometheus text format at GET /metrics.
// Thread safety: every counter is a relaxed atomic; render may run concurrently with updates.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "model/job_type.hpp"
#include "queue/control_publisher.hpp"
#include "queue/event_consumer.hpp"
#include "queue/publisher.hpp"
#include "queue/status_relay.hpp"
#include "server/notification_hub.hpp"
#include "store/store.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::server {

namespace webhooks {
struct dispatcher_stats;  // server/webhooks/webhook_dispatcher.hpp
}

class metrics {
  public:
    // One latency histogram per slot; `slot_names` are their route labels (server/router.hpp:
    // slot 0 for unrouted requests, 1 for 405s, then one per route of the table).
    explicit metrics(std::vector<std::string_view> slot_names)
        : slot_names_(std::move(slot_names)), latency_(slot_names_.size()) {}

    void count_response(unsigned status) noexcept {
        if (status < responses_.size()) responses_[status].fetch_add(1, std::memory_order_relaxed);
    }
    // One answered request in `slot` that took `d` from its first header byte to its answer written.
    void observe_request(std::size_t slot, std::chrono::nanoseconds d) noexcept {
        auto& h = latency_[slot < latency_.size() ? slot : 0];
        const double seconds = std::chrono::duration<double>(d).count();
        std::size_t b = 0;
        while (b < latency_bounds.size() && seconds > latency_bounds[b]) ++b;
        h.buckets[b].fetch_add(1, std::memory_order_relaxed);
        h.sum_ns.fetch_add(static_cast<std::uint64_t>(d.count()), std::memory_order_relaxed);
    }
    void count_job_created(model::job_type t) noexcept {
        jobs_created_[static_cast<std::size_t>(t)].fetch_add(1, std::memory_order_relaxed);
    }
    // The lifecycle: cancels that changed a job, retries (explicit ones by the API, automatic
    // ones of retryable failures), jobs expired before they left the outbox, and published ones
    // expired while no worker consumed their type.
    void count_cancel_request() noexcept { cancels_.fetch_add(1, std::memory_order_relaxed); }
    void count_retry(bool automatic) noexcept {
        (automatic ? automatic_retries_ : explicit_retries_).fetch_add(1, std::memory_order_relaxed);
    }
    void count_expired_in_outbox(std::uint64_t n) noexcept {
        expired_in_outbox_.fetch_add(n, std::memory_order_relaxed);
    }
    void count_expired_unconsumed(std::uint64_t n) noexcept {
        expired_unconsumed_.fetch_add(n, std::memory_order_relaxed);
    }
    // The fair queue (server/job_release.hpp): jobs held at create, and released to the broker.
    void count_held() noexcept { held_.fetch_add(1, std::memory_order_relaxed); }
    void count_released(std::uint64_t n) noexcept { released_.fetch_add(n, std::memory_order_relaxed); }
    void request_started() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
    void request_finished() noexcept { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t requests_in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
    std::int64_t open_connections() const noexcept { return connections_.load(std::memory_order_relaxed); }
    void connection_opened() noexcept { connections_.fetch_add(1, std::memory_order_relaxed); }
    void connection_closed() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }

    // The components whose counters are rendered too; null ones (disabled) are left out.
    // Called once at startup, before any render.
    void watch(const queue::publisher_stats* publisher, const queue::event_consumer_stats* events,
               const notification_hub* hub) noexcept {
        publisher_ = publisher;
        events_ = events;
        hub_ = hub;
    }

    // The webhook dispatcher's counters (null: webhooks.enabled is false). Called once at startup.
    void watch_webhooks(const webhooks::dispatcher_stats* dispatcher) noexcept { webhooks_ = dispatcher; }

    // The control publisher (cancel requests to workers); null when publishing is off. Called
    // once at startup, before any render.
    void watch_control(const queue::control_publisher_stats* control) noexcept { control_ = control; }

    // The live status relay between instances; null when it does not run (SQLite, publishing off).
    void watch_status_relay(const queue::status_relay* relay) noexcept { status_relay_ = relay; }

    // `outbox`, `jobs`, `stuck` (stuck jobs per type) and `hooks` may be null when they could not
    // be read; their lines are left out.
    std::string render(const store::store_stats& store, const store::outbox_stats* outbox = nullptr,
                       const std::vector<store::job_count>* jobs = nullptr,
                       const std::vector<store::job_count>* stuck = nullptr,
                       const store::webhook_stats* hooks = nullptr) const;

    // Jobs created since start, all types together (the dashboard's ingest rate).
    std::uint64_t jobs_created_total() const noexcept {
        std::uint64_t n = 0;
        for (const auto& c : jobs_created_) n += c.load(std::memory_order_relaxed);
        return n;
    }
    // The slot of the route named `name` (the unrouted slot when there is none).
    std::size_t slot_of(std::string_view name) const noexcept {
        for (std::size_t i = 0; i < slot_names_.size(); ++i)
            if (slot_names_[i] == name) return i;
        return 0;
    }
    // The latency histogram of a slot as it stands: per-bucket counts, not cumulative, +Inf last.
    using bucket_counts = std::array<std::uint64_t, 14>;
    bucket_counts latency_buckets(std::size_t slot) const noexcept {
        bucket_counts out{};
        const auto& h = latency_[slot < latency_.size() ? slot : 0];
        for (std::size_t b = 0; b < out.size(); ++b) out[b] = h.buckets[b].load(std::memory_order_relaxed);
        return out;
    }

    // Upper bounds of the latency buckets, in seconds (Prometheus `le`), +Inf implied.
    static constexpr std::array<double, 13> latency_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,    0.25,  0.5,    1,     2.5,  5};

  private:
    void render_http(std::string& out) const;
    void render_lifecycle(std::string& out, const std::vector<store::job_count>* stuck) const;

    static_assert(std::tuple_size_v<bucket_counts> == latency_bounds.size() + 1);
    struct histogram {
        std::array<std::atomic<std::uint64_t>, latency_bounds.size() + 1> buckets{};  // not cumulative
        std::atomic<std::uint64_t> sum_ns{0};
    };
    const std::vector<std::string_view> slot_names_;
    std::vector<histogram> latency_;  // sized once: atomics never move
    std::array<std::atomic<std::uint64_t>, 600> responses_{};
    std::array<std::atomic<std::uint64_t>, model::all_job_types.size()> jobs_created_{};
    std::atomic<std::int64_t> connections_{0};
    std::atomic<std::int64_t> in_flight_{0};
    const queue::publisher_stats* publisher_ = nullptr;
    const queue::event_consumer_stats* events_ = nullptr;
    const notification_hub* hub_ = nullptr;
    const webhooks::dispatcher_stats* webhooks_ = nullptr;
    const queue::control_publisher_stats* control_ = nullptr;
    const queue::status_relay* status_relay_ = nullptr;
    std::atomic<std::uint64_t> cancels_{0}, explicit_retries_{0}, automatic_retries_{0},
        expired_in_outbox_{0}, expired_unconsumed_{0}, held_{0}, released_{0};
};

}  // namespace jobsd::server

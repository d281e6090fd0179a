// Sends the deliveries the store records: claims due ones (bounded in total and per destination),
// signs each (Standard Webhooks, the endpoint's secret and, during a rotation, the previous one
// too), sends it with the asynchronous sender on the dispatcher's own contexts (the app runs them
// on threads of a lower priority than ingestion's, webhooks.nice), and records every attempt with
// what becomes of the delivery (delivered, retried later, failed, endpoint gone). Nothing here
// blocks a thread: store calls complete through their handlers.
//
// Thread safety: start, stop and notify may be called from any thread. The claim loop and the
// recorder run on the first io context; sends run on the context their destination hashes to,
// so each destination's kept-alive connections stay on one thread. The few shared fields (slots
// per destination, results waiting to be recorded) are guarded by mutex_; counters are atomics.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/webhooks/address_policy.hpp"
#include "server/webhooks/retry_policy.hpp"
#include "server/webhooks/webhook_options.hpp"
#include "server/webhooks/webhook_sender.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::server::webhooks {

// What /metrics shows of the dispatcher. Counters are monotonic since start.
struct dispatcher_stats {
    // Attempts by what became of their delivery.
    std::atomic<std::uint64_t> delivered{0}, retried{0}, failed{0}, gone{0};
    std::atomic<std::int64_t> in_flight{0};    // attempts being sent now
    std::atomic<std::int64_t> waiting{0};      // claimed, waiting for a slot of their destination
    std::atomic<std::uint64_t> yielded_ms{0};  // time claims waited for ingestion (yield_writes)
    // Attempt latency (start to answer or failure), not cumulative, in the buckets of
    // metrics::latency_bounds widened to the answer timeout: +Inf last.
    static constexpr std::array<double, 12> bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10,  30};
    std::array<std::atomic<std::uint64_t>, bounds.size() + 1> latency{};
    std::atomic<std::uint64_t> latency_sum_ms{0};
};

class webhook_dispatcher {
  public:
    // `contexts` are the dispatcher's own (the first runs the loops); all outlive the dispatcher.
    // `writes_waiting` tells how many writes wait for the store's writer now (any thread; null:
    // never yield to ingestion). Throws std::runtime_error when webhooks.ca_file cannot be loaded.
    webhook_dispatcher(const webhook_options& options, store::webhook_store& store,
                       std::vector<boost::asio::io_context*> contexts,
                       std::function<std::uint64_t()> writes_waiting = {});
    ~webhook_dispatcher();

    // Releases this instance's old claims, then claims and sends until stop().
    void start();
    // No more claims, and no more attempts: those in flight end within their deadlines (or
    // with the io contexts) and are recorded; deliveries queued behind them wait, claimed, for the
    // next start (SQLite) or the claim's lease (PostgreSQL).
    void stop();
    // Stopped, and every attempt started is recorded: none would be sent again after a restart.
    bool settled();
    // New deliveries may be due (a status change was applied, a redelivery asked for).
    void notify();

    const dispatcher_stats& stats() const noexcept { return stats_; }

  private:
    struct destination {
        std::size_t in_flight = 0;
        std::deque<store::due_delivery> waiting;  // claimed beyond the destination's bound
    };

    boost::asio::awaitable<void> claim_loop();
    // Returns once the store's writer is not kept busy by others (or after a second).
    boost::asio::awaitable<void> yield_to_ingestion();
    boost::asio::awaitable<void> record_loop();
    boost::asio::awaitable<void> deliver(store::due_delivery d);
    boost::asio::awaitable<std::optional<std::string>> secret_of(const store::due_delivery& d);
    store::claim_request next_claim();
    void note_capped(bool skipped, const std::vector<store::due_delivery>& due);
    // Starts `d` now or queues it behind its destination's attempts in flight.
    void admit(store::due_delivery d);
    // An attempt ended: records it, frees its slot and starts the destination's next one.
    void finished(const std::string& dest, store::attempt_record record);
    void count(const store::attempt_record& record);
    std::size_t context_of(const std::string& dest) const;
    // A destination holding fewer deliveries than this (in flight and waiting) is claimed for.
    std::size_t refill_below() const noexcept { return 2 * options_.per_endpoint; }

    const webhook_options& options_;
    store::webhook_store& store_;
    std::vector<boost::asio::io_context*> contexts_;
    const std::function<std::uint64_t()> writes_waiting_;
    const address_policy policy_;
    const retry_policy retry_;
    boost::asio::ssl::context tls_;
    host_resolver resolver_;                                // the senders' name lookups
    std::vector<std::unique_ptr<webhook_sender>> senders_;  // one per context, used on it alone
    boost::asio::steady_timer wake_;                        // the claim loop sleeps on it
    boost::asio::steady_timer record_wake_;                 // the recorder sleeps on it
    std::atomic<bool> stopping_{false};
    std::atomic<bool> woken_{false};  // a notify came while the claim loop was busy
    dispatcher_stats stats_;

    std::mutex mutex_;
    std::map<std::string, destination> destinations_;  // guarded; only those with work
    std::size_t claimed_ = 0;                          // guarded: in flight + waiting
    std::vector<store::attempt_record> results_;       // guarded: ended, not yet recorded
    std::size_t unrecorded_ = 0;                       // guarded: attempts started, not yet recorded
    bool full_ = false;                                // guarded: the loop waits for a free slot
    bool capped_ = false;  // guarded: the last claim left due deliveries of a destination at its bound
    std::atomic<bool> refill_{false};  // that destination runs low: the next claim without a pause
};

}  // namespace jobsd::server::webhooks

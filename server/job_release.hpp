// The fair queue between the outbox and each type's broker queue (priority and fairness,
// issue 16). While a type's queue holds fewer than lifecycle.fair_window ready messages, a new
// job goes to the broker at once, as before. Past it, new jobs are held in the store (a
// fair_key, out of the outbox) and released as the workers drain the queue, smallest key first
// (model/fair_order.hpp: weighted round robin across accounts and priorities). So the broker's
// queue stays short, and what reaches the workers next is decided here, where a newcomer's job
// or a high priority job can be put ahead of a flood: another account's job waits behind at most
// one job of the flood in the fair queue and then behind at most fair_window in the broker.
// What a type's queue holds is counted every fair_interval: the type's jobs still in the outbox
// (committed, not yet confirmed by the broker) plus the ready messages a passive queue.declare
// reports (on a connection of its own); jobs let through since the count are added on top, so
// neither a burst nor a slow publisher overfills the queue between counts. Several instances share the fair
// queue in the store (SKIP LOCKED); each keeps its own tags, so fairness between them is approximate (each
// instance is fair). Thread safety: admit() from any thread; run() once, on one executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "model/fair_order.hpp"
#include "model/job.hpp"
#include "queue/publisher.hpp"
#include "server/lifecycle_config.hpp"
#include "server/metrics.hpp"
#include "server/passive_queue_reader.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class job_release {
  public:
    job_release(const lifecycle_options& options, const queue::amqp_options& amqp, store::store& store,
                queue::publisher& publisher, metrics& counters);

    // Before the job's insert: holds it (sets job.fair_key; the caller then does not hand it to
    // the publisher) when its type's queue is full or jobs of its type are held already.
    void admit(model::job& job);

    // Reads the queues and releases held jobs every fair_interval until `stopping` is set.
    boost::asio::awaitable<void> run(boost::asio::io_context& ctx, const std::atomic<bool>& stopping);

  private:
    // How often every type's held jobs are looked for even if this instance held none.
    static constexpr std::chrono::seconds look_interval{5};

    struct lane {
        model::fair_order order;
        std::uint64_t ready = 0;        // ready messages in the broker at the last count
        std::uint64_t unpublished = 0;  // jobs in the outbox (not yet confirmed) at the last count
        std::uint64_t admitted = 0;     // let through since then (at create or released)
        // Jobs held by this instance wait: new ones queue behind them. False at start, so that
        // with the broker away new jobs wait in the outbox as always (until the window is
        // reached), in commit order.
        bool backlog = false;
        // The store may hold jobs of the type (at start: from before a restart; every
        // look_interval: another instance's): each count looks, until a release finds fewer than
        // it asked for.
        bool look = true;
        std::uint64_t holds = 0;  // jobs held, ever (a release that saw the last of them knows)
    };
    // Reads the outbox and broker counts; false when either could not be read.
    boost::asio::awaitable<bool> read_counts();
    // Logs the first failure of a run of them (counts and releases are tried again every
    // interval, and the end of the run is logged); returns false.
    bool failed(const std::string& why);
    // Releases what the type's room allows; true when that filled it (more may be waiting).
    boost::asio::awaitable<bool> release(model::job_type type);
    std::uint64_t room(const lane& l) const noexcept;

    const lifecycle_options& options_;
    store::store& store_;
    queue::publisher& publisher_;
    metrics& counters_;
    passive_queue_reader reader_;
    std::mutex mu_;
    std::array<lane, model::all_job_types.size()> lanes_;  // guarded by mu_
    bool failing_ = false;  // run()'s own: a count or release failed and none has worked since
    bool counted_ = false;  // run()'s own: the last count worked (releases may go on from it)
    std::chrono::steady_clock::time_point next_count_{};  // run()'s own: no count before (outbox_count_pause)
    bool tick_failed_ = false;                            // run()'s own: one failed in this tick
};

}  // namespace jobsd::server

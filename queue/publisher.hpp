// Sends committed jobs to the broker with publisher confirms, and keeps the outbox honest:
// a job is marked published only once the broker confirmed it; anything nacked, returned or
// lost with a connection is sent again; after every (re)connect a relay re-sends every
// unpublished job, oldest first.
//
// Thread safety: submit() and stats() may be called from any thread, start() and stop() from
// the owner. submit() only posts to a bounded mailbox; the AMQP connection and every piece of
// the publisher's state (the relay ledger, the confirm tracker) live on its own thread, and the
// outbox's answers come back through the same mailbox. Nothing here ever blocks the caller.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "model/job.hpp"
#include "model/job_type.hpp"
#include "queue/amqp_options.hpp"
#include "queue/outbox.hpp"

namespace jobsd::queue {

// Counters for /metrics; monotonic except `connected`.
struct publisher_stats {
    std::atomic<std::uint64_t> published{0};      // basic.publish calls, first sends and resends
    std::atomic<std::uint64_t> confirmed{0};      // acked by the broker (and not returned)
    std::atomic<std::uint64_t> nacked{0};         // basic.nack
    std::atomic<std::uint64_t> returned{0};       // basic.return: unroutable
    std::atomic<std::uint64_t> republished{0};    // sent again: relay, retry after nack/return/reconnect
    std::atomic<std::uint64_t> reconnects{0};     // connections made after the first
    std::atomic<std::uint64_t> deferred{0};       // handed over while away or full: left to the relay
    std::atomic<std::uint64_t> outbox_errors{0};  // outbox reads, marks and claim renewals that failed
    // Jobs not sent because their claim on a shared outbox may have lapsed (renewals too late)
    // or was lost to another instance; the relay claims them again unless another holds them.
    std::atomic<std::uint64_t> claims_lapsed{0};
    std::atomic<std::uint64_t> claims_lost{0};  // renewals the store refused: another instance's now
    // Jobs sent on a live claim but marked published only after it may have lapsed: another
    // instance may have sent them too (at-least-once; see relay_ledger::marked).
    std::atomic<std::uint64_t> marked_late{0};
    // Job queues found with other arguments at the last connect, kept as declared (see topology.hpp).
    std::atomic<std::uint64_t> queues_kept{0};
    std::atomic<bool> connected{false};
    // connection.blocked: the broker stopped reading (a memory or disk alarm); nothing is sent
    // until connection.unblocked.
    std::atomic<bool> blocked{false};
    // Per job type (model::all_job_types order): paused now because the broker returned or
    // nacked its messages, and how many pauses it has had.
    std::array<std::atomic<bool>, model::all_job_types.size()> type_paused{};
    std::array<std::atomic<std::uint64_t>, model::all_job_types.size()> type_pauses{};
};

class publisher {
  public:
    publisher(amqp_options options, outbox& box);
    ~publisher();  // stop()
    publisher(const publisher&) = delete;
    publisher& operator=(const publisher&) = delete;

    void start();
    // Waits briefly for outstanding confirms, then closes. Unconfirmed jobs stay unpublished.
    void stop();

    // Fast path for a job just committed. Never blocks; when the broker is away or the mailbox
    // holds publish_queue_max jobs already, the job stays in the outbox and the relay sends it
    // later (counted as deferred). `claimed_ms`: when the store claimed it for this instance (wall
    // clock), if not by its insert at created_ms (a job released from the fair queue).
    void submit(model::job job, std::optional<std::int64_t> claimed_ms = std::nullopt);

    const publisher_stats& stats() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace jobsd::queue

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

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "model/job.hpp"
#include "queue/amqp_options.hpp"
#include "queue/outbox.hpp"

namespace jobsd::queue {

// Counters for /metrics; monotonic except `connected`.
struct publisher_stats {
    std::atomic<std::uint64_t> published{0};    // basic.publish calls, first sends and resends
    std::atomic<std::uint64_t> confirmed{0};    // acked by the broker (and not returned)
    std::atomic<std::uint64_t> nacked{0};       // basic.nack
    std::atomic<std::uint64_t> returned{0};     // basic.return: unroutable
    std::atomic<std::uint64_t> republished{0};  // sent again: relay, retry after nack/return/reconnect
    std::atomic<std::uint64_t> reconnects{0};   // connections made after the first
    std::atomic<std::uint64_t> deferred{0};     // handed over while away or full: left to the relay
    std::atomic<bool> connected{false};
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
    // later (counted as deferred).
    void submit(model::job job);

    const publisher_stats& stats() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace jobsd::queue

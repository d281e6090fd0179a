// Sends control messages (cancel requests) to the workers with publisher confirms, from the
// control outbox: a message is dropped from the outbox only once the broker confirmed it, so a
// crash between the commit of a cancel and its delivery loses nothing (the next start sends it).
// A connection and a thread of its own, apart from the job publisher: cancels are rare and must
// never wait behind a backlog of jobs in the job publisher's hand-over queue or confirm window.
//
// Thread safety: poke() and stats() from any thread, start() and stop() from the owner. The AMQP
// connection and the ledger live on the publisher's thread; the outbox's answers come back
// through a mailbox.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "queue/amqp_options.hpp"
#include "queue/control_outbox.hpp"

namespace jobsd::queue {

// Counters for /metrics; monotonic except `connected`.
struct control_publisher_stats {
    std::atomic<std::uint64_t> published{0};  // basic.publish calls
    std::atomic<std::uint64_t> confirmed{0};  // acked by the broker (then removed from the outbox)
    std::atomic<std::uint64_t> failed{0};     // nacked or returned (sent again after the next read)
    std::atomic<bool> connected{false};
};

class control_publisher {
  public:
    control_publisher(amqp_options options, control_outbox& box);
    ~control_publisher();  // stop()
    control_publisher(const control_publisher&) = delete;
    control_publisher& operator=(const control_publisher&) = delete;

    void start();
    // Closes at once: unconfirmed messages stay in the outbox for the next start.
    void stop();

    // A control message was committed: read the outbox now rather than at the next poll.
    void poke();

    const control_publisher_stats& stats() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace jobsd::queue

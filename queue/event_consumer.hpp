// Consumes status events (from a durable queue bound to the events exchange) and the
// dead-letter queues, and hands them to an event_sink in batches; a batch is acked only after
// the sink applied it. A dead-lettered job becomes an EXPIRED event when its time to live ran out,
// a FAILED event with the broker's reason otherwise.
//
// Thread safety: start/stop from one owner thread, stats() from any; the connection lives on
// its own thread (an amqp_session), which also calls the sink.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "queue/amqp_options.hpp"
#include "queue/event_sink.hpp"

namespace jobsd::queue {

struct event_consumer_stats {
    std::atomic<std::uint64_t> received{0};       // status events delivered to jobsd
    std::atomic<std::uint64_t> malformed{0};      // dropped: not JSON, no uuid, unknown status
    std::atomic<std::uint64_t> dead_lettered{0};  // jobs that came back through a dead-letter queue
    std::atomic<std::uint64_t> batches{0};        // batches applied
    std::atomic<bool> connected{false};
};

class event_consumer {
  public:
    event_consumer(amqp_options options, event_sink& sink);
    ~event_consumer();
    event_consumer(const event_consumer&) = delete;
    event_consumer& operator=(const event_consumer&) = delete;

    void start();
    void stop();  // unacked deliveries return to the queue

    const event_consumer_stats& stats() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace jobsd::queue

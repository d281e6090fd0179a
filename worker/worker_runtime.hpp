// The connection thread of a worker: consumes one job queue, hands jobs to a pool of handler
// threads, publishes their status events (mandatory, with publisher confirms), and acks each
// delivery only once the job's terminal event is confirmed and was not returned: an outcome the
// broker could not route stays with the worker and is sent again. Reads its type's control
// stream: a cancelled job is stopped (its handler's stop token) and reported CANCELLED, and one
// cancelled before it arrives, or past its deadline, is acked without running (CANCELLED,
// EXPIRED). A job has --timeout-ms from its delivery: one that ran past it fails ("timed out");
// one still waiting for a handler thread then (every thread held by handlers that ignore their
// stop) is released to the queue for another worker. A handler still running a second after its
// stop is logged as abandoned.
// Thread safety: run() on one thread (it owns the rabbitmq-c connection); stop() from any
// thread or from a signal handler; stats() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "worker/job_handler.hpp"
#include "worker/worker_options.hpp"

namespace jobsd::worker {

struct worker_stats {
    std::atomic<std::uint64_t> received{0};   // deliveries
    std::atomic<std::uint64_t> succeeded{0};  // SUCCESS events made
    std::atomic<std::uint64_t> failed{0};     // FAILED events made (timeouts included)
    std::atomic<std::uint64_t> timed_out{0};
    std::atomic<std::uint64_t> cancelled{0};         // CANCELLED events made (stopped, or not run at all)
    std::atomic<std::uint64_t> expired{0};           // EXPIRED events made (not run: past its deadline)
    std::atomic<std::uint64_t> released{0};          // not started within the timeout: back to the queue
    std::atomic<std::uint64_t> handed_back{0};       // not started when the worker stopped: back to the queue
    std::atomic<std::uint64_t> abandoned{0};         // handlers still running a second after their stop
    std::atomic<std::uint64_t> events_returned{0};   // unroutable events (then sent again)
    std::atomic<std::uint64_t> rejected{0};          // bad messages, dead-lettered
    std::atomic<std::uint64_t> acked{0};             // deliveries acked after their terminal confirm
    std::atomic<std::uint64_t> events_published{0};  // status events sent
    std::atomic<std::uint64_t> event_messages{0};    // the messages carrying them (batches of contract 3)
    std::atomic<std::uint64_t> events_confirmed{0};  // messages confirmed
    std::atomic<std::uint64_t> events_nacked{0};     // messages nacked or returned
    std::atomic<std::uint64_t> lost{0};              // jobs dropped with a lost connection (redelivered)
    std::atomic<std::uint64_t> reconnects{0};
};

class worker_runtime {
  public:
    // `handler` must outlive the runtime. `worker_id` goes into every event ("<host>:<pid>").
    worker_runtime(worker_options options, job_handler& handler, std::string worker_id);
    ~worker_runtime();
    worker_runtime(const worker_runtime&) = delete;
    worker_runtime& operator=(const worker_runtime&) = delete;

    // Connects (over the URLs in amqp.url_order, with backoff), declares the topology, consumes until stop():
    // then cancels the consumer, hands the jobs no handler thread has started back to the queue,
    // lets the running ones finish within the grace period, closes.
    // Returns true when every handler has returned; false when some still run after being
    // asked to stop (the caller should then exit without joining them).
    bool run();

    // First call: graceful stop. Second call: stop now (jobs in hand go back to the broker).
    // Async-signal-safe.
    void stop() noexcept;

    const worker_stats& stats() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace jobsd::worker

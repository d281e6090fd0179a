// The --e2e consumer: a bench-owned exclusive, auto-delete queue bound to the jobs exchange for
// every job type, consumed on a thread of its own; it records each delivery's message_id and time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace jobsd::bench {

struct delivery {
    std::string message_id;
    std::int64_t delivered_ns;  // monotonic_ns() when the consumer got it
};

// The real per-type queues are untouched: a direct exchange copies each message to every bound
// queue, and ours disappears with the connection.
// Thread safety: start()/stop()/take() from one owner thread; the consumer thread (an
// amqp_session that never reconnects: the queue dies with its connection) hands deliveries over
// under a mutex.
class e2e_consumer {
  public:
    // Connects, declares the exchange as jobsd does (direct, durable), declares and binds the
    // queue, starts consuming. Throws std::runtime_error naming the broker on failure.
    e2e_consumer(const std::string& amqp_url, const std::string& exchange,
                 const std::vector<std::string>& job_types);
    ~e2e_consumer();
    e2e_consumer(const e2e_consumer&) = delete;
    e2e_consumer& operator=(const e2e_consumer&) = delete;

    // Deliveries received since the last call. Bounded: past 10 million unclaimed deliveries
    // further ones are dropped and counted in dropped().
    std::vector<delivery> take();
    // Stops the consumer thread and closes the connection (which deletes the queue).
    void stop();
    // The first error of the consumer thread (connection lost, …), or "".
    std::string error() const;
    std::uint64_t dropped() const noexcept { return dropped_.load(); }
    const std::string& queue_name() const noexcept { return queue_; }

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::string queue_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> dropped_{0};
    mutable std::mutex mutex_;
    std::vector<delivery> pending_;  // guarded by mutex_
    std::string error_;              // guarded by mutex_
};

}  // namespace jobsd::bench

// A deadline on every turn of an AMQP session's frame loop. rabbitmq-c waits without a deadline
// in basic.publish and basic.ack while the socket's send buffer is full, which is what happens
// once a broker under a memory or disk alarm stops reading. A turn that runs past its bound has
// the connection's socket shut down: the send fails at once, and the session's reconnect loop
// takes it from there. The bound is send_timeout, or one second once the session is stopping,
// so a stop is never held up by a broker that reads nothing.
//
// Thread safety: watch(), forget(), begin_turn(), end_turn() and quiet scopes on the session's
// thread; the watchdog's own thread only reads the turn's start and shuts the socket down under
// the lock that forget() takes, so it never touches a socket number closed and reused since.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace jobsd::queue {

class send_watchdog {
  public:
    using clock = std::chrono::steady_clock;

    // `stopping` (called on the watchdog's thread; must be thread-safe) shortens the bound to 1 s.
    send_watchdog(std::chrono::milliseconds limit, std::function<bool()> stopping);
    ~send_watchdog();
    send_watchdog(const send_watchdog&) = delete;
    send_watchdog& operator=(const send_watchdog&) = delete;

    // The socket of a new connection (`where` names it in the log line), and its end: call
    // forget() before the socket is closed.
    void watch(int fd, std::string where);
    void forget();

    // A turn that may send starts or ends. Turns do not nest.
    void begin_turn() noexcept;
    void end_turn() noexcept;

    // Pauses the clock of the current turn for a call that may rightly take long without
    // sending (applying a batch to a store): the turn's time starts again when it ends.
    class quiet_scope {
      public:
        explicit quiet_scope(send_watchdog* w) noexcept;
        ~quiet_scope();
        quiet_scope(const quiet_scope&) = delete;
        quiet_scope& operator=(const quiet_scope&) = delete;

      private:
        send_watchdog* w_;
        bool in_turn_ = false;
    };

    // How many times it shut a socket down (for tests and logs).
    unsigned fired() const noexcept { return fired_.load(); }

  private:
    void run();

    const std::chrono::milliseconds limit_;
    const std::function<bool()> stopping_;
    std::atomic<std::int64_t> turn_started_{0};  // steady clock ticks; 0 outside a turn
    std::atomic<unsigned> fired_{0};
    std::mutex mu_;
    std::condition_variable cv_;
    int fd_ = -1;        // guarded by mu_
    std::string where_;  // guarded by mu_
    bool done_ = false;  // guarded by mu_
    std::thread thread_;
};

}  // namespace jobsd::queue

// A wake-up signal: one thread waits for it with poll() next to a socket, any thread raises it.
// Thread safety: notify() from any thread, and from a signal handler; clear() by the waiting thread.
#pragma once

namespace jobsd::queue {

class wakeup {
  public:
    wakeup();  // throws std::system_error when no eventfd can be made
    ~wakeup();
    wakeup(const wakeup&) = delete;
    wakeup& operator=(const wakeup&) = delete;

    // Async-signal-safe. Raising it again before the waiter cleared it wakes the waiter once.
    void notify() const noexcept;
    // Lowers it again, after poll() said it is readable.
    void clear() const noexcept;
    int fd() const noexcept { return fd_; }

  private:
    int fd_ = -1;
};

}  // namespace jobsd::queue

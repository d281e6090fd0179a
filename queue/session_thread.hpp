// The thread an amqp_session runs on in jobsd (the publisher's, the event consumer's, the
// control publisher's and the status relay's): started once, with a name that top and ps show;
// stopped by making the session's user stopping and joining. What "stopping" means (a flag, a
// drain of confirms first) stays the user's.
//
// Thread safety: start() and stop() from the owner's thread, not concurrently.
#pragma once

#include <thread>
#include <utility>

#include "queue/amqp_session.hpp"

namespace jobsd::queue {

class session_thread {
  public:
    session_thread() = default;
    session_thread(const session_thread&) = delete;
    session_thread& operator=(const session_thread&) = delete;
    // The owner stops it first (its user's stop flag is its own); a thread still running here
    // would terminate the process, as a joinable std::thread does.
    ~session_thread() = default;

    // Runs session.run() on a new thread named `name` (15 characters at most); once.
    void start(const char* name, amqp_session& session);

    // `ask` makes the session's user stopping and wakes the session; then waits for run() to
    // return. Nothing when the thread was never started (or has been stopped).
    template <class Ask>
    void stop(Ask&& ask) {
        if (!thread_.joinable()) return;
        std::forward<Ask>(ask)();
        thread_.join();
    }

  private:
    std::thread thread_;
};

}  // namespace jobsd::queue

// Reports from pool threads to the connection thread: a mutex queue plus the wake-up the
// connection thread's AMQP session sleeps on next to the socket.
// Thread safety: every member may be called from any thread; wake() is async-signal-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>

#include "queue/wakeup.hpp"
#include "worker/job_handler.hpp"

namespace jobsd::worker {

struct job_report {
    // finished: the handler returned an outcome; stopped: it returned after its stop token fired
    // (cancelled, timed out, lost) or never began, so its outcome is not the job's; expired: a
    // pool thread took the job after its deadline, and never ran it.
    enum class kind { started, progress, finished, stopped, expired };
    std::uint64_t job_id = 0;  // the runtime's id for one delivery
    kind what = kind::started;
    int progress = 0;     // progress
    job_outcome outcome;  // finished
};

class report_mailbox {
  public:
    report_mailbox() = default;
    report_mailbox(const report_mailbox&) = delete;
    report_mailbox& operator=(const report_mailbox&) = delete;

    // A progress report replaces one of the same job still waiting, so the queue holds at
    // most three reports per job in flight however fast a handler reports.
    void push(job_report report);
    std::deque<job_report> take();

    // Raised by push(); wake() raises it alone (for stop requests).
    const queue::wakeup& waker() const noexcept { return wake_; }
    void wake() const noexcept { wake_.notify(); }

  private:
    queue::wakeup wake_;
    std::mutex mu_;
    std::deque<job_report> reports_;  // guarded by mu_
};

// Posts a job's progress to the mailbox, skipping any value not above the last one: progress
// only rises within a delivery, whatever order the handler reports it in.
// Thread safety: one per job, used by the thread that runs it.
class mailbox_progress final : public progress_reporter {
  public:
    mailbox_progress(report_mailbox& box, std::uint64_t job_id) : box_(box), job_id_(job_id) {}
    void report(int percent) override;

  private:
    report_mailbox& box_;
    std::uint64_t job_id_;
    int last_ = -1;
};

}  // namespace jobsd::worker

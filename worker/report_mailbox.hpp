// Reports from pool threads to the connection thread: a mutex queue plus the wake-up the
// connection thread's AMQP session sleeps on next to the socket.
//
// A report may wait a while (its linger: the time its event would wait anyway to share a message
// with others), so a push wakes the connection thread only when that thread would otherwise sleep
// past the report's due time. Under load the thread is up for deliveries and confirms often
// enough that most reports wake nobody: a no-op job then costs one wake of a pool thread instead
// of that plus up to three of the connection thread.
// Thread safety: every member may be called from any thread, except awake() and sleep_until()
// (the connection thread's); wake() is async-signal-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>

#include "queue/wakeup.hpp"
#include "worker/job_handler.hpp"

namespace jobsd::worker {

struct job_report {
    using clock = std::chrono::steady_clock;
    // finished: the handler returned an outcome; stopped: it returned after its stop token fired
    // (cancelled, timed out, lost) or never began, so its outcome is not the job's.
    enum class kind { started, progress, finished, stopped };
    std::uint64_t job_id = 0;  // the runtime's id for one delivery
    kind what = kind::started;
    int progress = 0;            // progress
    job_outcome outcome;         // finished
    clock::time_point pushed{};  // set by push(): an event made of it lingers from then on
};

class report_mailbox {
  public:
    using clock = std::chrono::steady_clock;

    report_mailbox() = default;
    report_mailbox(const report_mailbox&) = delete;
    report_mailbox& operator=(const report_mailbox&) = delete;

    // `linger`: how long the report may wait for the connection thread to look. A progress
    // report replaces one of the same job still waiting, so the queue holds at most three
    // reports per job in flight however fast a handler reports.
    void push(job_report report, clock::duration linger = {});
    std::deque<job_report> take();

    // The connection thread is up and will look before it sleeps again: pushes wake nobody.
    void awake() noexcept { look_by_.store(up, std::memory_order_seq_cst); }
    // The connection thread is going to sleep until `until`: from now on a push whose report is
    // due earlier wakes it. Returns when it must wake at the latest for what already waits.
    clock::time_point sleep_until(clock::time_point until);

    // Raised by a push that must not wait; wake() raises it alone (for stop requests).
    const queue::wakeup& waker() const noexcept { return wake_; }
    void wake() const noexcept { wake_.notify(); }

  private:
    static constexpr std::int64_t up = std::numeric_limits<std::int64_t>::min();

    queue::wakeup wake_;
    // When the connection thread looks at the latest (steady clock, ns): `up` while it is up.
    std::atomic<std::int64_t> look_by_{up};
    std::mutex mu_;
    std::deque<job_report> reports_;    // guarded by mu_
    clock::time_point earliest_due_{};  // guarded by mu_: of reports_, when not empty
};

// Posts a job's progress to the mailbox, skipping any value not above the last one: progress
// only rises within a delivery, whatever order the handler reports it in.
// Thread safety: one per job, used by the thread that runs it.
class mailbox_progress final : public progress_reporter {
  public:
    mailbox_progress(report_mailbox& box, std::uint64_t job_id, report_mailbox::clock::duration linger = {})
        : box_(box), job_id_(job_id), linger_(linger) {}
    void report(int percent) override;

  private:
    report_mailbox& box_;
    std::uint64_t job_id_;
    report_mailbox::clock::duration linger_;
    int last_ = -1;
};

}  // namespace jobsd::worker

// A push wakes the connection thread only when its report is due before both the reports already
// waiting (that wake was arranged by their push) and the time the thread has promised to look.
// No wake is lost: sleep_until() publishes its time before it reads the queue under the lock, and
// push() reads that time after writing the queue under the same lock, so either the sleeper sees
// the report or the pusher sees the sleeper's time.
#include "worker/report_mailbox.hpp"

#include <algorithm>

namespace jobsd::worker {

namespace {

std::int64_t ticks(report_mailbox::clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

void report_mailbox::push(job_report report, clock::duration linger) {
    report.pushed = clock::now();
    const auto due = report.pushed + linger;
    bool sooner = false;
    {
        std::lock_guard lock(mu_);
        if (report.what == job_report::kind::progress)
            for (auto& r : reports_)
                if (r.job_id == report.job_id && r.what == job_report::kind::progress) {
                    r.progress = report.progress;  // due no later than this one: pushed earlier
                    return;
                }
        sooner = reports_.empty() || due < earliest_due_;
        if (sooner) earliest_due_ = due;
        reports_.push_back(std::move(report));
    }
    if (sooner && ticks(due) < look_by_.load(std::memory_order_seq_cst)) wake();
}

std::deque<job_report> report_mailbox::take() {
    std::deque<job_report> out;
    std::lock_guard lock(mu_);
    out.swap(reports_);
    return out;
}

report_mailbox::clock::time_point report_mailbox::sleep_until(clock::time_point until) {
    look_by_.store(
        until == clock::time_point::max() ? std::numeric_limits<std::int64_t>::max() : ticks(until),
        std::memory_order_seq_cst);
    std::lock_guard lock(mu_);
    return reports_.empty() ? until : std::min(until, earliest_due_);
}

void mailbox_progress::report(int percent) {
    percent = std::clamp(percent, 0, 100);
    if (percent <= last_) return;  // progress only rises within a delivery (the contract)
    last_ = percent;
    box_.push({job_id_, job_report::kind::progress, percent, {}}, linger_);
}

}  // namespace jobsd::worker

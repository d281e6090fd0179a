// A push wakes the connection thread only when the queue was empty: it takes everything at once.
#include "worker/report_mailbox.hpp"

#include <algorithm>

namespace jobsd::worker {

void report_mailbox::push(job_report report) {
    bool was_empty = false;
    {
        std::lock_guard lock(mu_);
        if (report.what == job_report::kind::progress)
            for (auto& r : reports_)
                if (r.job_id == report.job_id && r.what == job_report::kind::progress) {
                    r.progress = report.progress;
                    return;
                }
        was_empty = reports_.empty();
        reports_.push_back(std::move(report));
    }
    if (was_empty) wake();
}

std::deque<job_report> report_mailbox::take() {
    std::deque<job_report> out;
    std::lock_guard lock(mu_);
    out.swap(reports_);
    return out;
}

void mailbox_progress::report(int percent) {
    percent = std::clamp(percent, 0, 100);
    if (percent <= last_) return;  // progress only rises within a delivery (the contract)
    last_ = percent;
    box_.push({job_id_, job_report::kind::progress, percent, {}});
}

}  // namespace jobsd::worker

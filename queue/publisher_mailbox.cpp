// Jobs wake the publisher only when the first one arrives (it takes them all, or comes back
// when its send queue has room); answers always wake it, they are few.
#include "queue/publisher_mailbox.hpp"

#include <utility>

namespace jobsd::queue {

bool publisher_mailbox::offer(model::job job, clock::time_point now, std::optional<std::int64_t> claimed_ms) {
    bool first = false;
    {
        std::lock_guard lock(mu_);
        if (!open_ || jobs_.size() >= max_jobs_) {
            sweep_ = true;
            return false;
        }
        first = jobs_.empty();
        const auto claimed = claimed_ms.value_or(job.created_ms);
        jobs_.push_back({std::move(job), now, claimed});
    }
    if (first) wake_.notify();
    return true;
}

void publisher_mailbox::post(claim_answer answer) {
    {
        std::lock_guard lock(mu_);
        claims_.push_back(std::move(answer));
    }
    wake_.notify();
}

void publisher_mailbox::post(mark_answer answer) {
    {
        std::lock_guard lock(mu_);
        marks_.push_back(std::move(answer));
    }
    wake_.notify();
}

void publisher_mailbox::post(renew_answer answer) {
    {
        std::lock_guard lock(mu_);
        renewals_.push_back(std::move(answer));
    }
    wake_.notify();
}

publisher_mailbox::contents publisher_mailbox::take(std::size_t max_jobs) {
    contents out;
    std::lock_guard lock(mu_);
    if (jobs_.size() <= max_jobs) {
        out.jobs.swap(jobs_);
    } else {
        for (std::size_t i = 0; i < max_jobs; ++i) {
            out.jobs.push_back(std::move(jobs_.front()));
            jobs_.pop_front();
        }
    }
    out.claims.swap(claims_);
    out.marks.swap(marks_);
    out.renewals.swap(renewals_);
    out.sweep = std::exchange(sweep_, false);
    return out;
}

void publisher_mailbox::set_open(bool open) {
    std::lock_guard lock(mu_);
    open_ = open;
    if (!open) jobs_.clear();
}

}  // namespace jobsd::queue

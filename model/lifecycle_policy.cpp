// The event rules of lifecycle_policy.hpp. pg_schema.cpp's jobsd_apply_event() is the same rules
// in PL/pgSQL; store_contract and lifecycle store tests run both adapters through them.
#include "model/lifecycle_policy.hpp"

#include <algorithm>

namespace jobsd::model {

std::chrono::milliseconds lifecycle_policy::backoff(job_type t, int failed_attempt) const noexcept {
    const auto& p = of(t);
    auto wait = p.retry_backoff;
    for (int i = 1; i < failed_attempt && wait < p.retry_backoff_max; ++i) wait *= 2;
    return std::min(wait, p.retry_backoff_max);
}

event_decision decide_event(const job_state& job, const job_event& e, const lifecycle_policy& policy,
                            std::int64_t now_ms) noexcept {
    event_decision d;
    if (e.attempt && *e.attempt != job.attempt) return d;
    const bool running_report = e.status == job_status::started || e.status == job_status::in_progress;
    const bool cancelled = job.cancel_requested || job.status == job_status::cancelled;
    d.resend_cancel = running_report && cancelled;
    const bool given_up =
        job.status == job_status::expired || (job.dead_lettered && job.status == job_status::failed);
    if (given_up && e.status == job_status::success) {
        d.what = event_decision::action::overrule;
        return d;
    }
    if (!moves_forward(job.status, job.progress, e.status, e.progress)) return d;
    d.what = event_decision::action::apply;
    if (e.status == job_status::failed && e.retryable && !job.cancel_requested &&
        job.attempt < policy.of(job.type).max_attempts) {
        const auto due = now_ms + policy.backoff(job.type, job.attempt).count();
        if (!job.expires_at_ms || due < *job.expires_at_ms) {
            d.what = event_decision::action::retry;
            d.retry_at_ms = due;
        }
    }
    return d;
}

}  // namespace jobsd::model

// The publisher's mailbox, the one place other threads hand it anything: jobs just committed
// (from io threads; bounded), the outbox's answers (from store threads) and requests to sweep
// for jobs left in the outbox. Posting raises the wake-up the publisher's session sleeps on.
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "model/job.hpp"
#include "queue/outbox.hpp"
#include "queue/wakeup.hpp"

namespace jobsd::queue {

class publisher_mailbox {
  public:
    using clock = std::chrono::steady_clock;

    struct handed_job {
        model::job job;
        clock::time_point at;  // when it was handed over
        // When its claim was made (wall clock, ms): its insert (created_ms) or its release from
        // the fair queue.
        std::int64_t claimed_ms = 0;
    };
    struct claim_answer {
        std::uint64_t sweep = 0;  // relay_ledger::claim_request::sweep
        std::error_code error;
        std::vector<outbox::entry> entries;
    };
    struct mark_answer {
        std::vector<model::job_attempt> published;
        std::error_code error;
    };
    struct renew_answer {
        std::vector<std::string> asked;    // the claims it was to renew
        std::vector<std::string> renewed;  // those the store renewed
        clock::time_point sent_at;         // when the renewal was requested
        std::error_code error;
    };
    struct contents {
        std::deque<handed_job> jobs;
        std::vector<claim_answer> claims;
        std::vector<mark_answer> marks;
        std::vector<renew_answer> renewals;
        bool sweep = false;  // jobs were left to the relay since the last take
    };

    // At most `max_jobs` jobs wait at once (amqp.publish_queue_max).
    explicit publisher_mailbox(std::size_t max_jobs) : max_jobs_(max_jobs) {}

    // Takes a job unless the mailbox is closed (no broker) or full; a refused job stays in the
    // outbox, and a sweep is requested so the relay sends it. Wakes the publisher when the
    // job is the first one waiting.
    bool offer(model::job job, clock::time_point now, std::optional<std::int64_t> claimed_ms = std::nullopt);
    void post(claim_answer answer);
    void post(mark_answer answer);
    void post(renew_answer answer);

    // Everything waiting, but no more than `max_jobs` jobs (the rest stay for a later take).
    contents take(std::size_t max_jobs);
    // Open while connected: jobs are taken. Closing drops the jobs waiting (they are in the
    // outbox, and the sweep after the next connect sends them).
    void set_open(bool open);

    const wakeup& waker() const noexcept { return wake_; }

  private:
    const std::size_t max_jobs_;
    wakeup wake_;
    std::mutex mu_;
    bool open_ = false;                   // guarded by mu_
    bool sweep_ = false;                  // guarded by mu_
    std::deque<handed_job> jobs_;         // guarded by mu_
    std::vector<claim_answer> claims_;    // guarded by mu_
    std::vector<mark_answer> marks_;      // guarded by mu_
    std::vector<renew_answer> renewals_;  // guarded by mu_
};

}  // namespace jobsd::queue

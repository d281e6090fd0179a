// What happens to a job after its 201, per job type: automatic retries of retryable failures
// (how many attempts, what backoff), its default time to live, and when a running job counts
// as stuck. And the one rule every store applies to a status event (decide_event), so that the
// SQLite and PostgreSQL adapters decide alike. Pure code; no I/O, no clock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "model/job_event.hpp"
#include "model/job_status.hpp"
#include "model/job_type.hpp"

namespace jobsd::model {

struct type_lifecycle {
    // Attempts in all for failures a worker marks retryable (1: never retried automatically).
    // 3 rides out a worker's restart or a model server's hiccup without looping on a bad job.
    int max_attempts = 3;
    // The wait before the second attempt, doubled for each later one up to retry_backoff_max.
    // 10 s lets a transient fault clear; 10 minutes caps a long series.
    std::chrono::milliseconds retry_backoff{10'000};
    std::chrono::milliseconds retry_backoff_max{600'000};
    // Time to live of a job created without expires_in_s; nullopt: none (it waits as long as
    // it takes, as before).
    std::optional<std::chrono::seconds> default_expires_in;
    // A STARTED or IN_PROGRESS job whose last event is older than this is stuck (a metric, and
    // `jobsctl job stuck`). 10 minutes: media jobs report progress far more often than that.
    std::chrono::seconds stuck_after{600};
};

struct lifecycle_policy {
    std::array<type_lifecycle, all_job_types.size()> types{};
    // Largest expires_in_s a client may ask for (a week: a deadline further out is no deadline).
    std::chrono::seconds max_expires_in{7 * 24 * 3600};

    const type_lifecycle& of(job_type t) const noexcept { return types[static_cast<std::size_t>(t)]; }
    type_lifecycle& of(job_type t) noexcept { return types[static_cast<std::size_t>(t)]; }

    // The wait after attempt `failed_attempt` (1, 2, …) failed retryably.
    std::chrono::milliseconds backoff(job_type t, int failed_attempt) const noexcept;
};

// What a store knows of a job when an event for it arrives.
struct job_state {
    job_type type{};
    job_status status = job_status::queued;
    int attempt = 1;
    std::optional<int> progress;
    bool cancel_requested = false;
    std::optional<std::int64_t> expires_at_ms;
    // FAILED because the broker dead-lettered its message (the error begins with
    // dead_letter_error_prefix): the broker's inference, not a worker's outcome.
    bool dead_lettered = false;
};

// What the store does with one event.
struct event_decision {
    enum class action {
        ignore,  // late, duplicate, of another attempt, backwards: nothing changes
        apply,   // the job takes the event's status (and progress, output, error)
        // A worker's SUCCESS of the attempt a dead letter marked FAILED, or of an EXPIRED attempt:
        // the job takes it, its output and no error (the dead letter's text is cleared).
        overrule,
        retry,  // a retryable FAILED: the job goes back to QUEUED as attempt + 1, due at retry_at_ms
    };
    action what = action::ignore;
    // The job's cancel was recorded but its worker still reports STARTED or progress (it missed
    // the broadcast): the cancel request is sent again.
    bool resend_cancel = false;
    std::int64_t retry_at_ms = 0;
};

// The rules, in order:
// 1. An event of another attempt than the job's is ignored (an event without one, from a
//    contract-1 worker, counts as the current attempt).
// 2. Status moves forward only within the attempt (moves_forward): a later status, or within
//    IN_PROGRESS a higher progress (a repeat, a lower value or none is ignored). Except: a
//    SUCCESS of the attempt overrules a FAILED that only a dead letter made, and an EXPIRED (the
//    worker's confirmed outcome may reach jobsd after the broker gave the job up: its ack lost on
//    the last delivery the queue allowed, or its time to live run out while it waited in the
//    queue again; events and dead letters come by two queues). An EXPIRED says no worker started
//    the attempt in time; a SUCCESS of it says one did and finished it.
// 3. A FAILED event with retryable=true becomes a retry while attempts remain, no cancel was
//    asked for, and the retry would be due before the job's deadline; otherwise it is FAILED.
// 4. STARTED or IN_PROGRESS for a job whose cancel was recorded (still running, or already
//    CANCELLED from the queue) asks for the cancel to be sent again, applied or not.
event_decision decide_event(const job_state& job, const job_event& e, const lifecycle_policy& policy,
                            std::int64_t now_ms) noexcept;

}  // namespace jobsd::model

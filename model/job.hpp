// A job as the system keeps it. `input` and `output` are JSON text, stored as received.
// One job may run several times (attempts): a retry keeps the uuid and raises `attempt`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/job_status.hpp"
#include "model/job_type.hpp"

namespace jobsd::model {

struct job {
    std::string uuid;
    std::string account_id;
    std::string source_id;  // resolved project id, or image prompt id
    job_type type{};
    job_status status = job_status::queued;
    std::string session_id;
    std::optional<double> version;      // the request's `version`, when it had one
    std::string input;                  // the whole request body, JSON text
    std::optional<int> progress;        // 0..100, the latest IN_PROGRESS report
    std::optional<std::string> output;  // JSON text set by the worker
    std::optional<std::string> error;
    std::string idempotency_key;  // "" when the client sent none
    std::string request_hash;     // SHA-256 of the body, to tell a replay from a conflict
    std::string webhook_url;      // the request's `webhook` ("" for none): this job's own callback
    unsigned webhook_events = 0;  // its filter (model/webhook_event.hpp bits); 0 without a webhook
    std::string batch_id;         // "" unless created by POST /jobs/v2/batch: shared by the batch's jobs
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
    int attempt = 1;  // 1 for the first run; each retry or requeue adds one
    // The client's time to live (expires_in_s) and the current attempt's deadline: a job not
    // started by then becomes EXPIRED. An explicit retry starts a new deadline from this TTL.
    std::optional<std::int64_t> expires_in_ms;
    std::optional<std::int64_t> expires_at_ms;
    // When the owner asked to cancel the job; nullopt otherwise.
    std::optional<std::int64_t> cancel_requested_ms;
    // A retry waiting for its backoff: the job is QUEUED and leaves for the broker at this time.
    std::optional<std::int64_t> retry_at_ms;
    // 1 (lowest) to 5 (highest), 3 by default (model/priority.hpp).
    int priority = 3;
    // Held in its type's fair queue (server/job_release.hpp) until its turn: the job's place in
    // it (model/fair_order.hpp). A held job is out of the outbox until released.
    std::optional<double> fair_key;
    // W3C traceparent with jobsd's span as parent (model/trace_context.hpp), passed to workers in
    // the message headers; "" for a job stored before traces.
    std::string traceparent;
};

// One attempt of a job: what the broker confirms and the outbox marks published. A retry keeps
// the uuid, so a confirm of an earlier attempt must not mark the next one's wait in the outbox.
struct job_attempt {
    std::string uuid;
    int attempt = 1;
};

}  // namespace jobsd::model

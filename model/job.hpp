// A job as the system keeps it. `input` and `output` are JSON text, stored as received.
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
};

}  // namespace jobsd::model

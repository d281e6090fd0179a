// A job as the store keeps it. `input` and `output` are JSON text, stored as received.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/job_status.hpp"
#include "model/job_type.hpp"

namespace jobsd::store {

struct job_record {
    std::string uuid;
    std::string account_id;
    std::string source_id;  // resolved project id, or image prompt id
    model::job_type type{};
    model::job_status status = model::job_status::queued;
    std::string session_id;
    std::string input;                  // the whole request body, JSON text
    std::optional<std::string> output;  // JSON text set by the worker
    std::optional<std::string> error;
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
};

}  // namespace jobsd::store

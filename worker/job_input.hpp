// Parsing a job message of the contract (DESIGN.md, "The message contract") into a job_input.
// Sans-I/O: text in, job or reason out.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "worker/job_handler.hpp"

namespace jobsd::worker {

struct parsed_job {
    std::optional<job_input> job;  // set when the message is usable
    std::string error;             // why not, otherwise
};

// A usable message is a JSON object with a non-empty string "uuid". "job_type" defaults to
// `fallback_type`; "input" must be an object when present; "contract" and "attempt" whole
// numbers from 1 when present (1 when absent: contract 1); "expires_at" an ISO-8601 time when
// present. Anything else is rejected.
parsed_job parse_job_message(std::string body, std::string_view fallback_type);

}  // namespace jobsd::worker

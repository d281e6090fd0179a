// A status event as workers publish it (the design's event contract), and its parsing.
// Pure code; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "model/job_status.hpp"

namespace jobsd::model {

// {"uuid","job_status","progress"?,"output"?,"error"?,"worker"?,"at"}
struct job_event {
    std::string uuid;
    job_status status = job_status::queued;
    std::optional<int> progress;        // 0..100
    std::optional<std::string> output;  // JSON text of an object
    std::optional<std::string> error;
    std::optional<std::string> worker;
    std::int64_t at_ms = 0;  // when it happened; now when the event had no `at`
};

// How the `error` of a job marked FAILED because the broker dead-lettered it begins (the event
// consumer writes it); `jobsctl job requeue-dead` recognises such jobs by it.
inline constexpr std::string_view dead_letter_error_prefix = "dead-lettered: ";

// The reason an event body was refused, for the log.
struct event_error {
    std::string problem;
};

std::variant<job_event, event_error> parse_job_event(std::string_view body, std::int64_t now_ms);

// The event as JSON text (what notification subscribers receive), with the job's type added.
std::string to_json(const job_event& e, std::string_view job_type);

}  // namespace jobsd::model

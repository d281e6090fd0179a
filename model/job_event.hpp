// A status event as workers publish it (the design's event contract), and its parsing.
// Pure code; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/job_status.hpp"

namespace jobsd::model {

// {"uuid","job_status","attempt"?,"progress"?,"output"?,"error"?,"retryable"?,"worker"?,"at"}
struct job_event {
    std::string uuid;
    job_status status = job_status::queued;
    // The attempt the event is about (contract 2); nullopt from a contract-1 worker, which is
    // taken as the job's current attempt.
    std::optional<int> attempt;
    std::optional<int> progress;        // 0..100
    std::optional<std::string> output;  // JSON text of an object
    std::optional<std::string> error;
    bool retryable = false;  // FAILED only: the worker says another attempt may succeed
    std::optional<std::string> worker;
    std::int64_t at_ms = 0;  // when it happened; now when the event had no `at`
    // Not in the body: the trace id of the message's `traceparent` header (the worker's span of
    // the job's trace; the job message's own for a dead-lettered job), for log lines. "" if none.
    std::string trace_id;
};

// How the `error` of a job marked FAILED because the broker dead-lettered it begins (the event
// consumer writes it); `jobsctl job requeue-dead` recognises such jobs by it.
inline constexpr std::string_view dead_letter_error_prefix = "dead-lettered: ";

// The reason an event body was refused, for the log.
struct event_error {
    std::string problem;
};

// One message's events: a batch body {"events":[event, ...]} (contract 3) gives one entry per
// element, in order, each an event or why it was refused; any other body is one event. In a batch
// an event may carry its own `traceparent` (the header is the message's, not the event's): its
// trace id goes to job_event::trace_id.
std::vector<std::variant<job_event, event_error>> parse_job_events(std::string_view body,
                                                                   std::int64_t now_ms);

// The event as JSON text (what notification subscribers receive), with the job's type added.
std::string to_json(const job_event& e, std::string_view job_type);

}  // namespace jobsd::model

// The webhook events: one row per event, naming the job status that causes it, its bit in a
// stored filter and whether endpoints get it by default. A new event is a new row. Pure; no I/O.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/job_status.hpp"

namespace jobsd::model {

struct webhook_event {
    std::string_view name;  // the body's "type" and the filter's word, e.g. "job.succeeded"
    job_status status;      // the status change that causes it
    unsigned bit;           // its bit in a stored filter (never reuse one: filters are stored)
    bool by_default;        // sent when an endpoint or a job names no events
};

// clang-format off
inline constexpr std::array<webhook_event, 6> webhook_events{{
    //  name              caused by                 bit      by default
    {"job.started",   job_status::started,     1u << 0, false},
    {"job.progress",  job_status::in_progress, 1u << 1, false},  // opt-in only: one per progress report
    {"job.succeeded", job_status::success,     1u << 2, true},
    {"job.failed",    job_status::failed,      1u << 3, true},
    {"job.cancelled", job_status::cancelled,   1u << 4, true},
    {"job.expired",   job_status::expired,     1u << 5, true},
}};
// clang-format on

// The event a job entering `status` causes, or nullptr (QUEUED causes none).
const webhook_event* webhook_event_for(job_status status) noexcept;

// The event named `name`, or nullptr.
const webhook_event* find_webhook_event(std::string_view name) noexcept;

// The filter of the events sent by default (the terminal ones).
unsigned default_webhook_events() noexcept;

// The names of the events in `filter`, in table order.
std::vector<std::string_view> webhook_event_names(unsigned filter);

// "job.started, job.progress, …": every name, for error messages.
std::string webhook_event_list();

}  // namespace jobsd::model

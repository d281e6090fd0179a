// The status event of the contract: exchange jobs.events (topic), routing key
// <job_type>.<status>, body {"uuid","job_status","attempt"?,"progress"?,"output"?,"error"?,
// "retryable"?,"worker"?,"at"}. Contract 3 adds batches: several events in one message, routing
// key <job_type>.batch, AMQP type "batch", body {"events":[event, ...]}, each event with its own
// "traceparent" member (a message has one header, a batch several jobs).
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "model/job_status.hpp"

namespace jobsd::worker {

// One event ready to publish. Sans-I/O: built from values, no clock or id generator inside.
struct status_event {
    std::string message_id;   // fresh per event (AMQP message_id)
    std::string routing_key;  // <job_type>.<STATUS>, e.g. video.SUCCESS
    std::string status;       // STARTED, IN_PROGRESS, SUCCESS, FAILED, CANCELLED, EXPIRED (AMQP type)
    std::string body;         // JSON
    std::int64_t at_ms = 0;   // event time, ms since the epoch (AMQP timestamp, "at")
    bool terminal = false;    // a terminal status: the delivery is acked once this is confirmed
    std::string traceparent;  // AMQP header `traceparent` (the worker's span of the job's trace); "" for none
};

struct event_fields {
    std::string_view uuid;
    model::job_status status = model::job_status::started;
    std::optional<int> attempt;                   // the attempt the job message carried (contract 2)
    std::optional<int> progress;                  // IN_PROGRESS only, 0..100
    const boost::json::object* output = nullptr;  // SUCCESS only
    std::optional<std::string_view> error;        // FAILED (and why a job was not run)
    bool retryable = false;                       // FAILED only: another attempt may succeed
    std::string_view worker;                      // "<hostname>:<pid>"; omitted when empty
    std::int64_t at_ms = 0;
    std::string_view traceparent;  // copied to status_event::traceparent
};

status_event make_status_event(std::string_view job_type, const event_fields& fields, std::string message_id);

// Events of jobs of contract 3 or later, in order, as one message (at least one event). Its
// `status` is "batch", `terminal` whether any of them is, `at_ms` the first one's, no traceparent.
status_event make_event_batch(std::string_view job_type, std::span<const status_event* const> events,
                              std::string message_id);

}  // namespace jobsd::worker

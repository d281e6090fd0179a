// The status events a message of the jobs.events exchange carries, read as a consumer of the
// worker contract would: one event, or several in a batch (contract 3), where each event has its
// own traceparent member instead of the message's header.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <vector>

#include "tests/support/amqp_client.hpp"

namespace jobsd::test {

struct status_event_seen {
    boost::json::object body;  // the event as the contract writes it
    std::string status;        // its job_status
    std::string traceparent;   // the event's own (batch) or the message's header; "" for none
    bool batched = false;      // it came in a batch message
};

// Throws if the body is not JSON or an element is not an object: the worker broke the contract.
std::vector<status_event_seen> events_in(const received& message);

// Every event of `messages`, in order.
std::vector<status_event_seen> events_in(const std::vector<received>& messages);

// The statuses of job `uuid`'s events among `messages`, in order.
std::vector<std::string> statuses_of(const std::vector<received>& messages, const std::string& uuid);

}  // namespace jobsd::test

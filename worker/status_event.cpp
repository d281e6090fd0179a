// Keys are written in the contract's order; absent optional fields are left out, not null.
#include "worker/status_event.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <string>

#include "model/clock.hpp"
#include "model/json_text.hpp"

namespace jobsd::worker {

namespace json = boost::json;

status_event make_status_event(std::string_view job_type, const event_fields& f, std::string message_id) {
    const std::string_view status = model::to_string(f.status);
    // Written as text, as jobsd writes its job message: a DOM per event, built only to be
    // serialized, was more than a quarter of a no-op worker's instructions per job.
    std::string body;
    body.reserve(160 + f.uuid.size() + f.worker.size() + (f.error ? f.error->size() : 0));
    body += "{\"uuid\":";
    model::append_json_string(body, f.uuid);
    body += ",\"job_status\":\"";
    body += status;
    body += '"';
    if (f.attempt) {
        body += ",\"attempt\":";
        body += std::to_string(*f.attempt);
    }
    if (f.progress) {
        body += ",\"progress\":";
        body += std::to_string(std::clamp(*f.progress, 0, 100));
    }
    if (f.output) {
        body += ",\"output\":";
        body += json::serialize(*f.output);
    }
    if (f.error) {
        body += ",\"error\":";
        model::append_json_string(body, *f.error);
    }
    if (f.retryable && f.status == model::job_status::failed) body += ",\"retryable\":true";
    if (!f.worker.empty()) {
        body += ",\"worker\":";
        model::append_json_string(body, f.worker);
    }
    body += ",\"at\":";
    model::append_json_string(body, model::format_iso8601(f.at_ms));
    body += '}';

    status_event e;
    e.message_id = std::move(message_id);
    e.routing_key.reserve(job_type.size() + 1 + status.size());
    e.routing_key.append(job_type).append(".").append(status);
    e.status = std::string(status);
    e.body = std::move(body);
    e.at_ms = f.at_ms;
    e.terminal = model::is_terminal(f.status);
    e.traceparent = std::string(f.traceparent);
    return e;
}

status_event make_event_batch(std::string_view job_type, std::span<const status_event* const> events,
                              std::string message_id) {
    status_event batch;
    batch.message_id = std::move(message_id);
    batch.routing_key = std::string(job_type) + ".batch";
    batch.status = "batch";
    batch.at_ms = events.front()->at_ms;
    std::size_t size = 16;
    for (const auto* e : events) size += e->body.size() + e->traceparent.size() + 20;
    batch.body.reserve(size);
    batch.body = "{\"events\":[";
    for (const auto* e : events) {
        if (batch.body.back() != '[') batch.body += ',';
        batch.terminal = batch.terminal || e->terminal;
        if (e->traceparent.empty()) {
            batch.body += e->body;
            continue;
        }
        // The body is an object written above: its traceparent goes in before the closing brace
        // (a traceparent is hex digits and dashes, nothing to escape).
        batch.body.append(e->body, 0, e->body.size() - 1);
        batch.body += ",\"traceparent\":\"";
        batch.body += e->traceparent;
        batch.body += "\"}";
    }
    batch.body += "]}";
    return batch;
}

}  // namespace jobsd::worker

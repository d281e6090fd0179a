// Keys are written in the contract's order; absent optional fields are left out, not null.
#include "worker/status_event.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

#include "model/clock.hpp"

namespace jobsd::worker {

namespace json = boost::json;

status_event make_status_event(std::string_view job_type, const event_fields& f, std::string message_id) {
    const std::string status(model::to_string(f.status));
    json::object body;
    body["uuid"] = f.uuid;
    body["job_status"] = status;
    if (f.attempt) body["attempt"] = *f.attempt;
    if (f.progress) body["progress"] = std::clamp(*f.progress, 0, 100);
    if (f.output) body["output"] = *f.output;
    if (f.error) body["error"] = *f.error;
    if (f.retryable && f.status == model::job_status::failed) body["retryable"] = true;
    if (!f.worker.empty()) body["worker"] = f.worker;
    body["at"] = model::format_iso8601(f.at_ms);

    status_event e;
    e.message_id = std::move(message_id);
    e.routing_key = std::string(job_type) + "." + status;
    e.status = status;
    e.body = json::serialize(body);
    e.at_ms = f.at_ms;
    e.terminal = model::is_terminal(f.status);
    return e;
}

}  // namespace jobsd::worker

// Events are checked member by member; an unknown member is ignored (newer workers may add some).
// A batch (contract 3) is parsed once and each of its events checked the same way.
#include "model/job_event.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "model/clock.hpp"
#include "model/strict_json.hpp"
#include "model/trace_context.hpp"
#include "model/uuid.hpp"

namespace jobsd::model {

namespace json = boost::json;

namespace {

// Larger attempt numbers are refused as nonsense (a worker's bug), not stored.
constexpr double max_attempt = 1'000'000;

std::variant<job_event, event_error> parse_event_object(const json::value& doc, std::int64_t now) {
    const auto* obj = doc.if_object();
    if (!obj) return event_error{"not a JSON object"};
    job_event e;
    const auto* uuid = obj->if_contains("uuid");
    if (!uuid || !uuid->is_string() || !is_uuid(uuid->get_string()))
        return event_error{"uuid missing or not a uuid"};
    e.uuid = std::string(uuid->get_string());
    const auto* status = obj->if_contains("job_status");
    if (!status || !status->is_string()) return event_error{"job_status missing"};
    auto st = parse_job_status(status->get_string());
    if (!st) return event_error{"unknown job_status " + std::string(status->get_string())};
    e.status = *st;
    if (const auto* a = obj->if_contains("attempt"); a && !a->is_null()) {
        const double d = a->is_number() ? a->to_number<double>() : 0;
        if (d < 1 || d > max_attempt || d != static_cast<double>(static_cast<int>(d)))
            return event_error{"attempt is not a whole number from 1"};
        e.attempt = static_cast<int>(d);
    }
    if (const auto* r = obj->if_contains("retryable"); r && !r->is_null()) {
        if (!r->is_bool()) return event_error{"retryable is not true or false"};
        e.retryable = r->get_bool();
    }
    if (const auto* p = obj->if_contains("progress"); p && !p->is_null()) {
        if (!p->is_number()) return event_error{"progress is not a number"};
        const double d = p->to_number<double>();
        if (d < 0 || d > 100) return event_error{"progress out of 0..100"};
        e.progress = static_cast<int>(d);
    }
    if (const auto* o = obj->if_contains("output"); o && !o->is_null()) e.output = json::serialize(*o);
    if (const auto* err = obj->if_contains("error"); err && !err->is_null())
        e.error = err->is_string() ? std::string(err->get_string()) : json::serialize(*err);
    if (const auto* w = obj->if_contains("worker"); w && w->is_string())
        e.worker = std::string(w->get_string());
    e.at_ms = now;
    if (const auto* at = obj->if_contains("at"); at && at->is_string())
        if (auto ms = parse_iso8601(at->get_string())) e.at_ms = *ms;
    if (const auto* tp = obj->if_contains("traceparent"); tp && tp->is_string())
        if (auto trace = parse_traceparent(tp->get_string())) e.trace_id = std::move(trace->trace_id);
    return e;
}

}  // namespace

std::vector<std::variant<job_event, event_error>> parse_job_events(std::string_view body, std::int64_t now) {
    std::vector<std::variant<job_event, event_error>> out;
    boost::system::error_code ec;
    // The document lives only through this call: its nodes come from the stack (and, past it,
    // blocks freed at once at the end), and what the events keep is copied out of it.
    unsigned char buf[4096];
    json::monotonic_resource mr(buf, sizeof buf);
    json::value doc = json::parse(body, ec, &mr, message_parse_options());
    if (ec) {
        out.emplace_back(event_error{"not JSON: " + ec.message()});
        return out;
    }
    const auto* obj = doc.if_object();
    const auto* events = obj ? obj->if_contains("events") : nullptr;
    if (!events) {
        out.push_back(parse_event_object(doc, now));
        return out;
    }
    if (!events->is_array()) {
        out.emplace_back(event_error{"events is not an array"});
        return out;
    }
    out.reserve(events->get_array().size());
    for (const auto& one : events->get_array()) out.push_back(parse_event_object(one, now));
    return out;
}

std::string to_json(const job_event& e, std::string_view job_type) {
    json::object o{{"uuid", e.uuid}, {"job_type", job_type}, {"job_status", to_string(e.status)}};
    if (e.attempt) o["attempt"] = *e.attempt;
    if (e.progress) o["progress"] = *e.progress;
    if (e.output) {
        boost::system::error_code ec;
        auto v = json::parse(*e.output, ec);
        o["output"] = ec ? json::value(*e.output) : v;
    }
    if (e.error) o["error"] = *e.error;
    if (e.worker) o["worker"] = *e.worker;
    o["at"] = format_iso8601(e.at_ms);
    return json::serialize(o);
}

}  // namespace jobsd::model

#include "tests/support/status_events.hpp"

#include <boost/json/parse.hpp>

namespace jobsd::test {

namespace json = boost::json;

namespace {

status_event_seen seen(json::object body, std::string traceparent, bool batched) {
    status_event_seen e;
    e.status = std::string(body.at("job_status").as_string());
    if (const auto* t = body.if_contains("traceparent"); t && t->is_string())
        traceparent = std::string(t->get_string());
    e.traceparent = std::move(traceparent);
    e.body = std::move(body);
    e.batched = batched;
    return e;
}

}  // namespace

std::vector<status_event_seen> events_in(const received& message) {
    const auto header = message.headers.find("traceparent");
    const std::string traceparent = header == message.headers.end() ? "" : header->second;
    auto body = json::parse(message.body).as_object();
    std::vector<status_event_seen> out;
    if (const auto* batch = body.if_contains("events")) {
        for (const auto& one : batch->as_array()) out.push_back(seen(one.as_object(), "", true));
        return out;
    }
    out.push_back(seen(std::move(body), traceparent, false));
    return out;
}

std::vector<status_event_seen> events_in(const std::vector<received>& messages) {
    std::vector<status_event_seen> out;
    for (const auto& m : messages)
        for (auto& e : events_in(m)) out.push_back(std::move(e));
    return out;
}

std::vector<std::string> statuses_of(const std::vector<received>& messages, const std::string& uuid) {
    std::vector<std::string> out;
    for (const auto& e : events_in(messages))
        if (e.body.at("uuid").as_string() == uuid) out.push_back(e.status);
    return out;
}

}  // namespace jobsd::test

// The same strictness as the create body: strict JSON first, then each field, every problem named.
#include "model/webhook_request.hpp"

#include <boost/json/parse.hpp>

#include "model/strict_json.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_url.hpp"

namespace jobsd::model {

namespace json = boost::json;

namespace {

// `events`: a non-empty array of known names, as a filter; the default when absent or null.
unsigned parse_events(const json::object& body, std::vector<field_error>& errors) {
    const json::value* v = body.if_contains("events");
    if (!v || v->is_null()) return default_webhook_events();
    const auto* list = v->if_array();
    if (!list || list->empty()) {
        errors.push_back({"events", "must be a non-empty array of: " + webhook_event_list()});
        return 0;
    }
    unsigned filter = 0;
    for (const auto& item : *list) {
        const auto* event = item.is_string() ? find_webhook_event(item.get_string()) : nullptr;
        if (!event) {
            errors.push_back({"events", "must list only: " + webhook_event_list()});
            return 0;
        }
        filter |= event->bit;
    }
    return filter;
}

}  // namespace

std::variant<endpoint_request, request_error> parse_endpoint_request(std::string_view body) {
    if (auto problem = strict_json_problem(body); !problem.empty())
        return request_error{request_error::kind::malformed_json,
                             problem == "Malformed JSON body" ? problem : "Malformed JSON body: " + problem,
                             {}};
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    if (ec) return request_error{request_error::kind::malformed_json, "Malformed JSON body", {}};
    const auto* obj = doc.if_object();
    if (!obj) return request_error{request_error::kind::not_object, "Request body must be a JSON object", {}};

    endpoint_request req;
    std::vector<field_error> errors;
    const json::value* url = obj->if_contains("url");
    if (!url || url->is_null())
        errors.push_back({"url", "is required"});
    else if (!url->is_string())
        errors.push_back({"url", "must be a string"});
    else if (auto problem = webhook_url_problem(url->get_string()); !problem.empty())
        errors.push_back({"url", problem});
    else
        req.url = std::string(url->get_string());
    req.events = parse_events(*obj, errors);
    if (const json::value* enabled = obj->if_contains("enabled")) {
        if (enabled->is_bool())
            req.enabled = enabled->get_bool();
        else
            errors.push_back({"enabled", "must be true or false"});
    }
    if (!errors.empty())
        return request_error{request_error::kind::invalid_fields, "Invalid request", std::move(errors)};
    return req;
}

}  // namespace jobsd::model

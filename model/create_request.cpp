// Validation rules of API.md's POST /jobs/v2 table; each broken rule becomes one field_error.
#include "model/create_request.hpp"

#include "model/priority.hpp"
#include "model/storable_text.hpp"
#include "model/strict_json.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_url.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include <cstdio>

namespace jobsd::model {

namespace json = boost::json;

namespace {

class checker {
  public:
    explicit checker(const json::object& body) : body_(body) {}

    // A string, or absent/null when `nullable`; returns the text or "".
    std::string optional_string(std::string_view field) {
        const json::value* v = body_.if_contains(field);
        if (!v || v->is_null()) return {};
        if (const auto* s = v->if_string()) return std::string(*s);
        add(field, "must be a string");
        return {};
    }

    std::optional<double> optional_number(std::string_view field, std::optional<double> min,
                                          std::optional<double> max) {
        const json::value* v = body_.if_contains(field);
        if (!v) return std::nullopt;
        if (!v->is_number()) {
            add(field, "must be a number");
            return std::nullopt;
        }
        const double d = v->to_number<double>();
        if ((min && d < *min) || (max && d > *max)) {
            if (min && max)
                add(field, "must be between " + num(*min) + " and " + num(*max));
            else
                add(field, "must be >= " + num(*min));
            return std::nullopt;
        }
        return d;
    }

    // A whole number in [min, max], or absent (null too, as the OpenAPI document allows).
    std::optional<std::int64_t> optional_count(std::string_view field, std::int64_t min, std::int64_t max,
                                               std::string_view unit) {
        const json::value* v = body_.if_contains(field);
        if (!v || v->is_null()) return std::nullopt;
        const double d = v->is_number() ? v->to_number<double>() : -1;
        if (!v->is_number() || d < static_cast<double>(min) || d > static_cast<double>(max) ||
            d != static_cast<double>(static_cast<std::int64_t>(d))) {
            add(field, "must be a whole number of " + std::string(unit) + " from " + std::to_string(min) +
                           " to " + std::to_string(max));
            return std::nullopt;
        }
        return static_cast<std::int64_t>(d);
    }

    void values() {
        const json::value* v = body_.if_contains("values");
        if (!v) return;
        const auto* obj = v->if_object();
        if (!obj) {
            add("values", "must be an object");
            return;
        }
        for (const auto& entry : *obj) {
            const std::string field = "values." + std::string(entry.key());
            if (entry.value().is_string()) continue;
            const auto* asset = entry.value().if_object();
            if (!asset) {
                add(field, "must be a string or an asset object");
                continue;
            }
            for (const auto& member : *asset) {
                const std::string_view key = member.key();
                if (key.size() > 4 && key.substr(key.size() - 4) == "_url" && !member.value().is_string())
                    add(field + "." + std::string(key), "must be a string");
                else if (key == "effects" && !member.value().is_array())
                    add(field + ".effects", "must be an array");
            }
        }
    }

    // `webhook` (a URL, or absent/null) and `webhook_events` (names from the event table; the
    // default ones when absent). Sets both fields of `req`.
    void webhook(create_request& req) {
        req.webhook_url = optional_string("webhook");
        if (!req.webhook_url.empty())
            if (auto problem = webhook_url_problem(req.webhook_url); !problem.empty())
                add("webhook", problem);
        const json::value* v = body_.if_contains("webhook_events");
        if (!v || v->is_null()) {
            req.webhook_events = req.webhook_url.empty() ? 0 : default_webhook_events();
            return;
        }
        if (req.webhook_url.empty()) return add("webhook_events", "needs a webhook URL");
        const auto* list = v->if_array();
        if (!list || list->empty())
            return add("webhook_events", "must be a non-empty array of: " + webhook_event_list());
        for (const auto& item : *list) {
            const auto* event = item.is_string() ? find_webhook_event(item.get_string()) : nullptr;
            if (!event) return add("webhook_events", "must list only: " + webhook_event_list());
            req.webhook_events |= event->bit;
        }
    }

    void add(std::string_view field, std::string problem) {
        errors_.push_back({std::string(field), std::move(problem)});
    }

    std::vector<field_error> take_errors() { return std::move(errors_); }

  private:
    static std::string num(double d) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", d);
        return buf;
    }

    const json::object& body_;
    std::vector<field_error> errors_;
};

}  // namespace

std::variant<create_request, request_error> parse_create_request(std::string_view body,
                                                                 const create_limits& limits) {
    // Ambiguous or abusive JSON is refused in the pass that builds the document.
    unsigned char buf[4096];
    json::monotonic_resource mr(buf, sizeof buf);
    auto parsed = parse_strict_json(body, &mr);
    if (auto& problem = parsed.problem; !problem.empty()) {
        if (problem != "Malformed JSON body") problem = "Malformed JSON body: " + problem;
        return request_error{request_error::kind::malformed_json, std::move(problem), {}};
    }
    const auto* obj = parsed.doc.if_object();
    if (!obj) return request_error{request_error::kind::not_object, "Request body must be a JSON object", {}};

    checker check(*obj);
    create_request req;
    const json::value* type = obj->if_contains("job_type");
    if (!type || type->is_null()) {
        check.add("job_type", "is required");
    } else if (!type->is_string()) {
        check.add("job_type", "must be a string");
    } else if (auto t = parse_job_type(type->get_string())) {
        req.type = *t;
    } else {
        check.add("job_type",
                  "must be one of ai_talking_video, video, tts, image, photo_qc, pdf, ai_image_generation");
    }
    req.template_id = check.optional_string("template_id");
    req.project_id = check.optional_string("project_id");
    req.session_id = check.optional_string("session_id");
    // A JSON string is UTF-8 already, but may spell U+0000, where PostgreSQL would end the text.
    if (!is_storable_text(req.session_id)) check.add("session_id", "must not contain U+0000");
    req.version = check.optional_number("version", std::nullopt, std::nullopt);
    check.values();
    check.webhook(req);
    if (const json::value* music = obj->if_contains("background_music");
        music && !music->is_null() && !music->is_string())
        check.add("background_music", "must be a string or null");
    check.optional_number("background_volume", 0.0, 1.0);
    check.optional_number("background_start", 0.0, std::nullopt);
    req.expires_in_s = check.optional_count("expires_in_s", 1, limits.max_expires_in_s, "seconds");
    if (const json::value* p = obj->if_contains("priority"); p && !p->is_null()) {
        if (auto level = parse_priority(*p))
            req.priority = *level;
        else
            check.add("priority", "must be \"low\", \"normal\", \"high\" or a whole number from 1 to 5");
    }

    auto errors = check.take_errors();
    if (!errors.empty())
        return request_error{request_error::kind::invalid_fields, "Invalid request", std::move(errors)};
    return req;
}

resolved_source resolve_source(const catalog& cat, const std::string& account_id, const create_request& req,
                               std::int64_t now) {
    static constexpr std::string_view not_found = "Project not found";
    static constexpr std::string_view not_active = "Project is not active";
    if (!req.template_id.empty() || req.type != job_type::ai_image_generation) {
        const std::string& id = req.template_id.empty() ? req.project_id : req.template_id;
        if (id.empty()) return {{}, not_found};
        const project* p = cat.find_project(account_id, id);
        if (!p) return {{}, not_found};
        if (!p->active_at(now)) return {{}, not_active};
        return {p->id, {}};
    }
    if (req.project_id.empty()) return {{}, not_found};
    const image_prompt* prompt = cat.find_image_prompt(account_id, req.project_id);
    if (!prompt) return {{}, not_found};
    return {prompt->id, {}};
}

}  // namespace jobsd::model

// POST /jobs/v2: parsing and validating the body, and resolving the project it names.
// Pure functions over text and a catalog snapshot; no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/catalog.hpp"
#include "model/job_type.hpp"

namespace jobsd::model {

struct field_error {
    std::string field;
    std::string problem;
};

// Why a body was refused. Every kind answers 400; `errors` is filled for invalid_fields only.
struct request_error {
    enum class kind { malformed_json, not_object, invalid_fields };
    kind what;
    std::string message;
    std::vector<field_error> errors;
};

// The fields of a valid body that the server acts on. The whole body itself is kept by the
// caller as the job's input.
struct create_request {
    model::job_type type{};
    std::string template_id;  // "" when absent, null or empty
    std::string project_id;   // "" when absent, null or empty
    std::string session_id;   // "" when absent or null
    std::optional<double> version;
    std::string webhook_url;      // `webhook`: "" when absent or null
    unsigned webhook_events = 0;  // `webhook_events` as a filter; the default ones when absent
    // The job's time to live in seconds (expires_in_s): not started by then, it becomes EXPIRED.
    std::optional<std::int64_t> expires_in_s;
    // 1 (lowest) to 5 (highest); "low", "normal" (the default) and "high" name 1, 3 and 5.
    int priority = 3;
};

// Bounds the parser enforces that come from the configuration.
struct create_limits {
    // Largest expires_in_s accepted (lifecycle.max_expires_in_s): a week by default.
    std::int64_t max_expires_in_s = 7 * 24 * 3600;
};

std::variant<create_request, request_error> parse_create_request(std::string_view body,
                                                                 const create_limits& limits = {});

// The source a job resolves to, or why it does not.
struct resolved_source {
    std::string id;            // project id, or image prompt id for ai_image_generation via project_id
    std::string_view problem;  // empty on success: "Project not found" or "Project is not active"
};

// template_id first (no fallback when it is given and does not resolve), else project_id;
// ai_image_generation's project_id names an image prompt. Ownership is enforced.
resolved_source resolve_source(const catalog& cat, const std::string& account_id, const create_request& req,
                               std::int64_t now_ms);

}  // namespace jobsd::model

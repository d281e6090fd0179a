// POST /api/webhooks: parsing and validating the body that adds an endpoint. Pure; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "model/create_request.hpp"

namespace jobsd::model {

// {"url": "https://…", "events": ["job.succeeded", …]?, "enabled": true?}
struct endpoint_request {
    std::string url;
    unsigned events = 0;  // the default (terminal) events when absent
    bool enabled = true;
};

// A refusal is a request_error as for POST /jobs/v2 (400, with `errors` for fields).
std::variant<endpoint_request, request_error> parse_endpoint_request(std::string_view body);

}  // namespace jobsd::model

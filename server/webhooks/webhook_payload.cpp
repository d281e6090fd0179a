// Text around server/job_json's job body, as that one is written (no DOM to serialize again).
#include "server/webhooks/webhook_payload.hpp"

#include "model/clock.hpp"
#include "model/json_text.hpp"
#include "server/job_json.hpp"

namespace jobsd::server::webhooks {

std::string webhook_body(std::string_view event, std::int64_t event_ms, const model::job& job) {
    std::string body = R"({"type":)";
    model::append_json_string(body, event);
    body += R"(,"timestamp":)";
    model::append_json_string(body, model::format_iso8601(event_ms));
    body += R"(,"data":)";
    body += job_body(job);
    body += '}';
    return body;
}

}  // namespace jobsd::server::webhooks

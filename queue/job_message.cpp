// The body is assembled as text so the stored input is never parsed again on the hot path.
#include "queue/job_message.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>

#include "model/clock.hpp"
#include "model/json_text.hpp"

namespace jobsd::queue {

namespace json = boost::json;

namespace {

// A whole version (the studio sends 2) is written as an integer, so strictly typed consumers
// can read it as one; anything else keeps its fraction.
std::string version_text(const std::optional<double>& v) {
    if (!v) return "null";
    if (std::trunc(*v) == *v && std::fabs(*v) < 9.0e15) return std::to_string(static_cast<std::int64_t>(*v));
    return json::serialize(json::value(*v));
}

}  // namespace

job_message make_job_message(const model::job& job) {
    const std::string type(model::to_string(job.type));
    std::string body;
    body.reserve(job.input.size() + job.session_id.size() + 320);
    body += "{\"uuid\":";
    model::append_json_string(body, job.uuid);
    body += ",\"job_type\":";
    model::append_json_string(body, type);
    body += ",\"contract\":";
    body += std::to_string(job_contract_version);
    body += ",\"attempt\":";
    body += std::to_string(job.attempt);
    body += ",\"priority\":";
    body += std::to_string(job.priority);
    if (job.expires_at_ms) {
        body += ",\"expires_at\":";
        model::append_json_string(body, model::format_iso8601(*job.expires_at_ms));
    }
    body += ",\"account_id\":";
    model::append_json_string(body, job.account_id);
    body += ",\"source_id\":";
    model::append_json_string(body, job.source_id);
    body += ",\"session_id\":";
    model::append_json_string(body, job.session_id);
    body += ",\"version\":";
    body += version_text(job.version);
    body += ",\"input\":";
    body += job.input;
    body += ",\"created_at\":";
    model::append_json_string(body, model::format_iso8601(job.created_ms));
    body += '}';
    return {job.uuid, type, std::move(body), job.created_ms, job.attempt, job.expires_at_ms};
}

job_message_properties::job_message_properties(const job_message& m, std::int64_t now_ms) {
    header_.key = amqp_cstring_bytes(contract_header);
    header_.value.kind = AMQP_FIELD_KIND_I32;
    header_.value.value.i32 = job_contract_version;
    if (m.expires_at_ms) expiration_ = std::to_string(std::max<std::int64_t>(1, *m.expires_at_ms - now_ms));
}

void job_message_properties::apply(amqp_basic_properties_t& props) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = {1, &header_};
    if (!expiration_.empty()) {
        props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        props.expiration = {expiration_.size(), expiration_.data()};
    }
}

}  // namespace jobsd::queue

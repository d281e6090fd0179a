// Only the fields the runtime needs are checked; the rest of the message is passed through to
// the handler untouched.
#include "worker/job_input.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "model/clock.hpp"
#include "model/strict_json.hpp"

namespace jobsd::worker {

namespace json = boost::json;

namespace {

// Member `key` as a whole number from 1 into `out` when present; the problem otherwise.
std::string whole_number(const json::object& msg, std::string_view key, int& out) {
    const json::value* v = msg.if_contains(key);
    if (!v || v->is_null()) return {};
    if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > 1'000'000)
        return "\"" + std::string(key) + "\" is not a whole number from 1";
    out = static_cast<int>(v->as_int64());
    return {};
}

}  // namespace

parsed_job parse_job_message(std::string body, std::string_view fallback_type) {
    boost::system::error_code ec;
    // The message's nodes come from one arena, released with the job (the document is read,
    // never grown): no allocation and no free per node.
    // A job body as deep as the API accepts, one level down.
    json::value v = json::parse(body, ec, json::make_shared_resource<json::monotonic_resource>(),
                                model::message_parse_options());
    if (ec) return {std::nullopt, "not JSON: " + ec.message()};
    if (!v.is_object()) return {std::nullopt, "not a JSON object"};
    json::object& msg = v.as_object();

    const json::value* uuid = msg.if_contains("uuid");
    if (!uuid || !uuid->is_string() || uuid->as_string().empty()) return {std::nullopt, "no \"uuid\" string"};

    // Its objects on the message's arena: assigning across two resources would copy node by node.
    job_input job{.input = json::object(msg.storage()), .message = json::object(msg.storage())};
    job.uuid = std::string(uuid->as_string());
    job.job_type = std::string(fallback_type);
    if (const json::value* t = msg.if_contains("job_type")) {
        if (!t->is_string()) return {std::nullopt, "\"job_type\" is not a string"};
        if (!t->as_string().empty()) job.job_type = std::string(t->as_string());
    }
    if (const json::value* in = msg.if_contains("input"); in && !in->is_null()) {
        if (!in->is_object()) return {std::nullopt, "\"input\" is not an object"};
        job.input = json::object(in->as_object(), msg.storage());
    }
    if (auto e = whole_number(msg, "contract", job.contract); !e.empty()) return {std::nullopt, e};
    if (auto e = whole_number(msg, "attempt", job.attempt); !e.empty()) return {std::nullopt, e};
    if (const json::value* at = msg.if_contains("expires_at"); at && !at->is_null()) {
        auto ms = at->is_string() ? model::parse_iso8601(at->as_string()) : std::nullopt;
        if (!ms) return {std::nullopt, "\"expires_at\" is not an ISO-8601 time"};
        job.expires_at_ms = ms;
    }
    job.message = std::move(msg);
    job.body = std::move(body);
    return {std::move(job), {}};
}

}  // namespace jobsd::worker

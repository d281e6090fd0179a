// Stored input and output were checked on the way in; they are copied as they are, and so is the
// input's `values` member, as the client wrote it (a parse would write 0.4 as 4E-1).
#include "server/job_json.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "model/clock.hpp"
#include "model/json_scan.hpp"
#include "model/json_text.hpp"
#include "model/trace_context.hpp"

namespace jobsd::server {

namespace json = boost::json;

namespace {

// Appends stored JSON text as it is when it parses, else as a string. With `values`, then
// appends `,"values":` and the input's "values" member (or {}).
void append_stored_json(std::string& out, std::string_view text, bool values = false) {
    // The parse only validates (and finds `values`): its nodes live in a stack buffer, with the
    // heap as fallback for a large document.
    unsigned char buffer[4096];
    json::monotonic_resource scratch(buffer, sizeof buffer);
    boost::system::error_code ec;
    const auto v = json::parse(text, ec, &scratch);
    if (ec)
        model::append_json_string(out, text);
    else
        out += text;
    if (!values) return;
    out += R"(,"values":)";
    const json::value* member = nullptr;
    if (const auto* in = ec ? nullptr : v.if_object()) member = in->if_contains("values");
    if (!member) {
        out += "{}";
    } else if (const auto written = model::member_text(text, "values")) {
        out += *written;
    } else {
        out += json::serialize(*member);  // its key was written with escapes: the parse's view
    }
}

void append_member(std::string& out, std::string_view name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":";
    model::append_json_string(out, value);
}

}  // namespace

static void append_created_job(std::string& body, std::string_view uuid, model::job_type type,
                               std::string_view source_id) {
    body += R"({"uuid":)";
    model::append_json_string(body, uuid);
    append_member(body, "job_status", model::to_string(model::job_status::queued));
    append_member(body, "job_type", model::to_string(type));
    append_member(body, "template_id", source_id);
    body += '}';
}

std::string created_body(std::string_view uuid, model::job_type type, std::string_view source_id) {
    std::string body;
    body.reserve(160 + uuid.size() + source_id.size());
    body += R"({"message":"Job update accepted and processing.","job":)";
    append_created_job(body, uuid, type, source_id);
    body += '}';
    return body;
}

std::string batch_created_body(std::span<const model::job> jobs) {
    std::string body;
    body.reserve(64 + 160 * jobs.size());
    body += R"({"message":"Jobs accepted and processing.","jobs":[)";
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (i) body += ',';
        append_created_job(body, jobs[i].uuid, jobs[i].type, jobs[i].source_id);
    }
    body += "]}";
    return body;
}

std::string job_list_body(std::span<const model::job> jobs, std::string_view next_cursor,
                          std::string_view next) {
    std::string body = R"({"message":"Success","data":[)";
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        if (i) body += ',';
        body += job_body(jobs[i]);
    }
    body += R"(],"next_cursor":)";
    if (next_cursor.empty())
        body += "null";
    else
        model::append_json_string(body, next_cursor);
    body += R"(,"next":)";
    if (next.empty())
        body += "null";
    else
        model::append_json_string(body, next);
    body += '}';
    return body;
}

std::string job_body(const model::job& job) {
    std::string body;
    body.reserve(2 * job.input.size() + (job.output ? job.output->size() : 0) + 512);
    body += R"({"uuid":)";
    model::append_json_string(body, job.uuid);
    append_member(body, "user_id", job.account_id);
    append_member(body, "template_id", job.source_id);
    append_member(body, "job_type", model::to_string(job.type));
    append_member(body, "job_status", model::to_string(job.status));
    body += R"(,"input":)";
    append_stored_json(body, job.input, true);
    body += R"(,"output":)";
    if (job.output)
        append_stored_json(body, *job.output);
    else
        body += "null";
    append_member(body, "created_at", model::format_iso8601(job.created_ms));
    append_member(body, "updated_at", model::format_iso8601(job.updated_ms));
    if (job.progress) {
        body += R"(,"progress":)";
        body += std::to_string(*job.progress);
    }
    if (job.error) append_member(body, "error", *job.error);
    body += R"(,"attempts":)";
    body += std::to_string(job.attempt);
    body += R"(,"priority":)";
    body += std::to_string(job.priority);
    if (job.expires_at_ms) append_member(body, "expires_at", model::format_iso8601(*job.expires_at_ms));
    if (job.retry_at_ms) append_member(body, "retry_at", model::format_iso8601(*job.retry_at_ms));
    if (job.cancel_requested_ms && !model::is_terminal(job.status)) body += R"(,"cancel_requested":true)";
    if (const auto trace_id = model::trace_id_of(job.traceparent); !trace_id.empty())
        append_member(body, "trace_id", trace_id);
    body += '}';
    return body;
}

}  // namespace jobsd::server

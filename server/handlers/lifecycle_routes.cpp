// Expected outcomes are answers here; a store failure is thrown to the error boundary
// (server/error_boundary.hpp), which answers 503 or 500. After a commit: the session's event
// stream hears the change, and the cancel's control message or the retry's job goes to the broker.
#include "server/handlers/lifecycle_routes.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>

#include "model/clock.hpp"
#include "model/job_event.hpp"
#include "model/lifecycle_request.hpp"
#include "model/trace_context.hpp"
#include "model/uuid.hpp"
#include "server/body_checks.hpp"
#include "server/error_boundary.hpp"
#include "server/handlers/job_creation.hpp"
#include "server/job_json.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"
#include "server/webhooks/webhook_dispatcher.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;

namespace {

response not_found() {
    return message_response(http::status::not_found, "Job not found");
}

// {"message": …, "job": <the job as GET /jobs/:id shows it>}
response job_answer(http::status status, std::string_view message, const model::job& job) {
    std::string body = R"({"message":)";
    body += boost::json::serialize(boost::json::value(message));
    body += R"(,"job":)";
    body += job_body(job);
    body += '}';
    return json_response(status, std::move(body));
}

// 409: {"message": …, "job_status": …}
response conflict(std::string message, model::job_status status) {
    boost::json::object o{{"message", std::move(message)}, {"job_status", model::to_string(status)}};
    return json_response(http::status::conflict, boost::json::serialize(o));
}

// Tells the job's session stream about a change this request made.
void notify(const services& svc, const model::job& job, model::job_status status, std::int64_t now) {
    if (!svc.hub.listened()) return;
    model::job_event e;
    e.uuid = job.uuid;
    e.status = status;
    e.attempt = job.attempt;
    e.error = status == model::job_status::queued ? job.error : std::nullopt;
    e.at_ms = now;
    svc.hub.publish(job.account_id, job.session_id, model::to_json(e, model::to_string(job.type)));
}

}  // namespace

std::optional<response> check_optional_body(const services& svc, const http::request_header<>& header,
                                            caller&) {
    const auto length = header[http::field::content_length];
    if (header[http::field::transfer_encoding].empty() && (length.empty() || length == "0"))
        return std::nullopt;
    return check_json_body(header, svc.options.control_body_limit);
}

asio::awaitable<response> cancel_job(const request_context& ctx) {
    const auto id = model::canonical_uuid(ctx.param);
    if (!id) co_return not_found();  // ids we never issue need no store round trip
    const std::string& uuid = *id;
    if (auto error = model::check_cancel_request(ctx.req.body())) co_return request_error_response(*error);
    const auto now = model::now_ms();
    auto [ec, out] =
        co_await store::async_cancel_job(ctx.svc.store, ctx.who.account_id, uuid, now, use_nothrow);
    throw_on_failure(ec, "cancel job " + uuid);
    using kind = store::cancel_outcome::kind;
    if (out.what == kind::not_found || !out.job) co_return not_found();
    const auto& job = *out.job;
    if (out.what == kind::finished)
        co_return conflict(
            "Job is already " + std::string(model::to_string(job.status)) + "; nothing to cancel",
            job.status);
    if (out.changed) {
        spdlog::debug("job {} cancel {} trace_id={}", uuid,
                      out.what == kind::cancelled ? "done" : "asked of its worker",
                      model::trace_id_of(job.traceparent));
        ctx.svc.counters.count_cancel_request();
        if (ctx.svc.control) ctx.svc.control->poke();
        if (out.what == kind::cancelled) {
            notify(ctx.svc, job, model::job_status::cancelled, now);
            // The cancel's commit recorded the job.cancelled deliveries.
            if (ctx.svc.dispatcher) ctx.svc.dispatcher->notify();
        }
    }
    if (out.what == kind::cancelled) co_return job_answer(http::status::ok, "Job cancelled", job);
    co_return job_answer(http::status::accepted,
                         "Cancel requested; the job ends CANCELLED when its worker has stopped it", job);
}

asio::awaitable<response> retry_job(const request_context& ctx) {
    const auto id = model::canonical_uuid(ctx.param);
    if (!id) co_return not_found();
    const std::string& uuid = *id;
    auto parsed = model::parse_retry_request(ctx.req.body(), create_limits_of(ctx.svc));
    if (auto* error = std::get_if<model::request_error>(&parsed)) co_return request_error_response(*error);
    const auto& req = std::get<model::retry_request>(parsed);
    std::optional<std::int64_t> ttl_ms;
    if (req.expires_in_s) ttl_ms = *req.expires_in_s * 1000;
    const auto now = model::now_ms();
    auto [ec, out] =
        co_await store::async_retry_job(ctx.svc.store, ctx.who.account_id, uuid, ttl_ms, now, use_nothrow);
    throw_on_failure(ec, "retry job " + uuid);
    using kind = store::retry_outcome::kind;
    if (out.what == kind::not_found || !out.job) co_return not_found();
    const auto& job = *out.job;
    if (out.what == kind::not_retryable)
        co_return conflict("Only a FAILED, CANCELLED or EXPIRED job can be retried; this one is " +
                               std::string(model::to_string(job.status)),
                           job.status);
    spdlog::debug("job {} retried as attempt {} trace_id={}", uuid, job.attempt,
                  model::trace_id_of(job.traceparent));
    ctx.svc.counters.count_retry(false);
    notify(ctx.svc, job, model::job_status::queued, now);
    // The row is committed: hand it over (never blocks; the outbox keeps it if the broker is away).
    if (ctx.svc.publisher) ctx.svc.publisher->submit(job, now);
    co_return job_answer(http::status::accepted, "Job queued again as attempt " + std::to_string(job.attempt),
                         job);
}

}  // namespace jobsd::server::handlers

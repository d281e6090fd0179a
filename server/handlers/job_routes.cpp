// Expected outcomes are answers here; a store failure is thrown to the error boundary
// (server/error_boundary.hpp), which answers 503 or 500.
#include "server/handlers/job_routes.hpp"

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "model/job_event.hpp"
#include "model/uuid.hpp"
#include "model/values_check.hpp"
#include "server/body_checks.hpp"
#include "server/error_boundary.hpp"
#include "server/handlers/job_creation.hpp"
#include "server/header_lookup.hpp"
#include "server/job_json.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"
#include "store/store_error.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;

namespace {

// The answer to a repeated Idempotency-Key: the original 201 again, or 422 for another body.
response replay(const model::job& original, const std::string& request_hash) {
    if (original.request_hash != request_hash)
        return message_response(http::status::unprocessable_entity,
                                "Idempotency-Key was already used with a different request body");
    auto res =
        json_response(http::status::created, created_body(original.uuid, original.type, original.source_id));
    res.set("Idempotent-Replayed", "true");
    return res;
}

}  // namespace

std::optional<response> check_create_job(const services& svc, const http::request_header<>& header,
                                         caller& who) {
    if (auto full = check_outbox_backlog(svc)) return full;
    if (auto refused = check_json_body(header, svc.options.body_limit)) return refused;
    // A request with an Idempotency-Key takes its token in the handler, once it is known not to
    // be a repeat: a replay creates nothing and is answered whatever the bucket holds. Any other
    // is refused here, before its body is read.
    if (!header_value(header, "Idempotency-Key").empty()) return std::nullopt;
    return take_rate_tokens(svc, who.account_id, 1, who.rate);
}

asio::awaitable<response> create_job(const request_context& ctx) {
    // Idempotent create: a key seen before (same account, within the window) replays its job
    // before anything else is checked, so the first answer stands even when the project has
    // ended or changed since.
    const std::string_view key = header_value(ctx.req, "Idempotency-Key");
    std::string request_hash;
    if (!key.empty()) {
        if (auto bad = check_idempotency_key(key)) co_return std::move(*bad);
        request_hash = model::sha256_hex(ctx.req.body());
        if (auto earlier = co_await find_by_key(ctx, key)) co_return replay(*earlier, request_hash);
    }
    std::optional<rate_decision> rate = ctx.who.rate;
    if (!key.empty())
        if (auto refused = take_rate_tokens(ctx.svc, ctx.who.account_id, 1, rate))
            co_return std::move(*refused);

    auto parsed = model::parse_create_request(ctx.req.body(), create_limits_of(ctx.svc));
    if (auto* error = std::get_if<model::request_error>(&parsed)) co_return request_error_response(*error);
    const auto& create = std::get<model::create_request>(parsed);

    const auto now = model::now_ms();
    auto source = model::resolve_source(*ctx.who.catalog, ctx.who.account_id, create, now);
    if (!source.problem.empty()) co_return message_response(http::status::bad_request, source.problem);
    // Projects that ask for it check every value against their mapping fields.
    if (auto problems =
            model::check_job_values(*ctx.who.catalog, ctx.who.account_id, source.id, ctx.req.body());
        !problems.empty())
        co_return request_error_response(
            {model::request_error::kind::invalid_fields, "Invalid request", std::move(problems)});

    auto job = new_job(ctx, create, source.id, ctx.req.body(), now);
    job.idempotency_key = std::string(key);
    job.request_hash = request_hash;
    admit_to_fair_queue(ctx.svc, job);
    auto for_publisher = publisher_copy(ctx.svc, job);
    const std::string uuid = job.uuid;
    const std::string traceparent = job.traceparent;
    auto [ec] = co_await store::async_create_job(ctx.svc.store, std::move(job), use_nothrow);
    if (ec == store::store_errc::duplicate && !key.empty()) {
        // A concurrent request with the same key won the race: answer as its repeat.
        if (auto winner = co_await find_by_key(ctx, key)) co_return replay(*winner, request_hash);
    }
    throw_on_failure(ec, "create job " + uuid);
    auto created = json_response(http::status::created, created_body(uuid, create.type, source.id));
    announce_created(ctx, create.type, create.session_id, uuid, traceparent, now, std::move(for_publisher));
    if (rate) set_rate_headers(created, *rate);
    co_return created;
}

asio::awaitable<response> get_job(const request_context& ctx) {
    // Ids we never issue need no store round trip.
    const auto id = model::canonical_uuid(ctx.param);
    if (!id) co_return message_response(http::status::not_found, "Job not found");
    const std::string& uuid = *id;
    auto [ec, found] = co_await store::async_find_job(ctx.svc.store, ctx.who.account_id, uuid, use_nothrow);
    throw_on_failure(ec, "read job " + uuid);
    if (!found) co_return message_response(http::status::not_found, "Job not found");
    co_return json_response(http::status::ok, job_body(*found));
}

}  // namespace jobsd::server::handlers

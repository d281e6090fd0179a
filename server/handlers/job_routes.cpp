// Expected outcomes are answers here; a store failure is thrown to the error boundary
// (server/error_boundary.hpp), which answers 503 or 500.
#include "server/handlers/job_routes.hpp"

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "model/job_event.hpp"
#include "model/uuid.hpp"
#include "server/body_checks.hpp"
#include "server/error_boundary.hpp"
#include "server/job_json.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"
#include "store/store_error.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;

namespace {

void set_rate_headers(response& res, const rate_decision& d) {
    res.set("RateLimit-Limit", std::to_string(d.limit));
    res.set("RateLimit-Remaining", std::to_string(d.remaining));
    res.set("RateLimit-Reset", std::to_string(d.reset_s));
}

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

// The job this account created earlier with the same Idempotency-Key, within the store's window.
asio::awaitable<std::optional<model::job>> find_by_key(const request_context& ctx, std::string_view key) {
    auto [ec, found] = co_await store::async_find_by_idempotency_key(ctx.svc.store, ctx.who.account_id,
                                                                     std::string(key), use_nothrow);
    throw_on_failure(ec, "idempotency lookup");
    co_return found;
}

model::job new_job(const request_context& ctx, const model::create_request& create, std::string source_id,
                   std::string_view idempotency_key, std::string request_hash, std::int64_t now) {
    model::job job;
    job.uuid = model::new_uuid();
    job.idempotency_key = std::string(idempotency_key);
    job.request_hash = std::move(request_hash);
    job.account_id = ctx.who.account_id;
    job.source_id = std::move(source_id);
    job.type = create.type;
    job.session_id = create.session_id;
    job.version = create.version;
    job.input = ctx.req.body();
    job.webhook_url = create.webhook_url;
    job.webhook_events = create.webhook_events;
    job.created_ms = job.updated_ms = now;
    return job;
}

// After the commit: counters, the QUEUED event for session subscribers, and the publisher's copy
// of the job (made before the commit, since the store takes the job itself).
void announce_created(const request_context& ctx, const model::create_request& create,
                      const std::string& uuid, std::int64_t now, std::optional<model::job> for_publisher) {
    const services& svc = ctx.svc;
    svc.counters.count_job_created(create.type);
    if (svc.hub.subscribers() > 0) {  // no event text is built when nobody listens
        model::job_event queued;
        queued.uuid = uuid;
        queued.status = model::job_status::queued;
        queued.at_ms = now;
        svc.hub.publish(ctx.who.account_id, create.session_id,
                        model::to_json(queued, model::to_string(create.type)));
    }
    // The row is committed: hand it over (never blocks; the outbox keeps it if the broker is away).
    if (for_publisher) svc.publisher->submit(std::move(*for_publisher));
}

// The publisher's copy of a job about to be committed (it needs no idempotency fields), or
// nullopt when publishing is off.
std::optional<model::job> publisher_copy(const services& svc, const model::job& job) {
    if (!svc.publisher) return std::nullopt;
    std::optional<model::job> copy = job;
    copy->idempotency_key.clear();
    copy->request_hash.clear();
    copy->webhook_url.clear();
    return copy;
}

}  // namespace

std::optional<response> check_create_job(const services& svc, const http::request_header<>& header,
                                         caller& who) {
    if (svc.gate.limiter.enabled()) {
        who.rate = svc.gate.limiter.take(who.account_id);
        if (!who.rate->allowed) {
            auto res = message_response(http::status::too_many_requests, "Rate limit exceeded, retry later");
            set_rate_headers(res, *who.rate);
            res.set(http::field::retry_after, std::to_string(who.rate->retry_after_s));
            return res;
        }
    }
    if (svc.options.max_outbox_backlog > 0 && svc.gate.outbox_backlog() > svc.options.max_outbox_backlog) {
        auto res = message_response(http::status::service_unavailable,
                                    "Too many jobs waiting for the broker, retry later");
        res.set(http::field::retry_after, "5");
        return res;
    }
    return check_json_body(header, svc.options.body_limit);
}

asio::awaitable<response> create_job(const request_context& ctx) {
    auto parsed = model::parse_create_request(ctx.req.body());
    if (auto* error = std::get_if<model::request_error>(&parsed)) co_return request_error_response(*error);
    const auto& create = std::get<model::create_request>(parsed);

    const auto now = model::now_ms();
    auto source = model::resolve_source(*ctx.who.catalog, ctx.who.account_id, create, now);
    if (!source.problem.empty()) co_return message_response(http::status::bad_request, source.problem);

    // Idempotent create: a key seen before (same account, within the window) replays its job.
    const std::string_view key = ctx.req["Idempotency-Key"];
    std::string request_hash;
    if (!key.empty()) {
        if (key.size() > 255)
            co_return message_response(http::status::bad_request,
                                       "Idempotency-Key must be at most 255 characters");
        request_hash = model::sha256_hex(ctx.req.body());
        if (auto earlier = co_await find_by_key(ctx, key)) co_return replay(*earlier, request_hash);
    }

    auto job = new_job(ctx, create, source.id, key, request_hash, now);
    auto for_publisher = publisher_copy(ctx.svc, job);
    const std::string uuid = job.uuid;
    auto [ec] = co_await store::async_create_job(ctx.svc.store, std::move(job), use_nothrow);
    if (ec == store::store_errc::duplicate && !key.empty()) {
        // A concurrent request with the same key won the race: answer as its repeat.
        if (auto winner = co_await find_by_key(ctx, key)) co_return replay(*winner, request_hash);
    }
    throw_on_failure(ec, "create job " + uuid);
    auto created = json_response(http::status::created, created_body(uuid, create.type, source.id));
    announce_created(ctx, create, uuid, now, std::move(for_publisher));
    if (ctx.who.rate) set_rate_headers(created, *ctx.who.rate);
    co_return created;
}

asio::awaitable<response> get_job(const request_context& ctx) {
    const std::string uuid(ctx.param);
    // Ids we never issue need no store round trip.
    if (!model::is_uuid(uuid)) co_return message_response(http::status::not_found, "Job not found");
    auto [ec, found] = co_await store::async_find_job(ctx.svc.store, ctx.who.account_id, uuid, use_nothrow);
    throw_on_failure(ec, "read job " + uuid);
    if (!found) co_return message_response(http::status::not_found, "Job not found");
    co_return json_response(http::status::ok, job_body(*found));
}

}  // namespace jobsd::server::handlers

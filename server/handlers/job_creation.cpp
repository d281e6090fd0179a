// Shared by server/handlers/job_routes.cpp and job_batch.cpp; nothing here waits.
#include "server/handlers/job_creation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "model/job_event.hpp"
#include "model/storable_text.hpp"
#include "model/trace_context.hpp"
#include "model/uuid.hpp"
#include "server/error_boundary.hpp"
#include "server/header_lookup.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"
#include "store/store.hpp"

namespace jobsd::server::handlers {

boost::asio::awaitable<std::optional<model::job>> find_by_key(const request_context& ctx,
                                                              std::string_view key) {
    auto [ec, found] = co_await store::async_find_by_idempotency_key(ctx.svc.store, ctx.who.account_id,
                                                                     std::string(key), use_nothrow);
    throw_on_failure(ec, "idempotency lookup");
    co_return found;
}

void set_rate_headers(response& res, const rate_decision& d) {
    res.set("RateLimit-Limit", std::to_string(d.limit));
    res.set("RateLimit-Remaining", std::to_string(d.remaining));
    res.set("RateLimit-Reset", std::to_string(d.reset_s));
}

std::optional<response> take_rate_tokens(const services& svc, const std::string& account_id, double tokens,
                                         std::optional<rate_decision>& d) {
    auto& limiter = svc.gate.limiter;
    if (!limiter.enabled()) return std::nullopt;
    d = limiter.take(account_id, token_bucket::clock::now(), tokens);
    if (d->allowed) return std::nullopt;
    auto res = message_response(http::status::too_many_requests, "Rate limit exceeded, retry later");
    set_rate_headers(res, *d);
    res.set(http::field::retry_after, std::to_string(d->retry_after_s));
    return res;
}

std::optional<response> check_idempotency_key(std::string_view key) {
    if (!model::is_storable_text(key))
        return message_response(http::status::bad_request, "Idempotency-Key must be UTF-8 text");
    // Characters, as documented: the UTF-8 sequences' lead bytes (every byte but 10xxxxxx).
    const auto characters = std::count_if(
        key.begin(), key.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; });
    if (characters > 255)
        return message_response(http::status::bad_request, "Idempotency-Key must be at most 255 characters");
    return std::nullopt;
}

std::optional<response> check_outbox_backlog(const services& svc) {
    if (svc.options.max_outbox_backlog == 0 || svc.gate.outbox_backlog() <= svc.options.max_outbox_backlog)
        return std::nullopt;
    auto res = message_response(http::status::service_unavailable,
                                "Too many jobs waiting for the broker, retry later");
    res.set(http::field::retry_after, "5");
    return res;
}

model::create_limits create_limits_of(const services& svc) {
    model::create_limits limits;
    limits.max_expires_in_s = svc.lifecycle.max_expires_in.count();
    return limits;
}

model::job new_job(const request_context& ctx, const model::create_request& create, std::string source_id,
                   std::string_view input, std::int64_t now) {
    model::job job;
    job.uuid = model::new_uuid();
    job.account_id = ctx.who.account_id;
    job.source_id = std::move(source_id);
    job.type = create.type;
    job.session_id = create.session_id;
    job.version = create.version;
    job.input = std::string(input);
    job.webhook_url = create.webhook_url;
    job.webhook_events = create.webhook_events;
    job.created_ms = job.updated_ms = now;
    // The client's time to live, else its type's default, else none.
    if (create.expires_in_s)
        job.expires_in_ms = *create.expires_in_s * 1000;
    else if (const auto& ttl = ctx.svc.lifecycle.of(create.type).default_expires_in)
        job.expires_in_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*ttl).count();
    if (job.expires_in_ms) job.expires_at_ms = now + *job.expires_in_ms;
    job.priority = create.priority;
    // The caller's trace continued with a span of ours, or a new trace (never a refusal).
    job.traceparent = model::ingest_traceparent(header_value(ctx.req, "traceparent"));
    return job;
}

void admit_to_fair_queue(const services& svc, model::job& job) {
    if (svc.release) svc.release->admit(job);  // held: out of the outbox until its turn
}

std::optional<model::job> publisher_copy(const services& svc, const model::job& job) {
    if (!svc.publisher || job.fair_key) return std::nullopt;  // a held job leaves when released
    std::optional<model::job> copy = job;
    copy->idempotency_key.clear();
    copy->request_hash.clear();
    copy->webhook_url.clear();  // workers never see where the outcome goes
    return copy;
}

void announce_created(const request_context& ctx, model::job_type type, std::string_view session_id,
                      const std::string& uuid, std::string_view traceparent, std::int64_t now,
                      std::optional<model::job> for_publisher) {
    const services& svc = ctx.svc;
    spdlog::debug("job {} created trace_id={}", uuid, model::trace_id_of(traceparent));
    svc.counters.count_job_created(type);
    if (svc.hub.listened()) {  // no event text is built when nobody listens
        model::job_event queued;
        queued.uuid = uuid;
        queued.status = model::job_status::queued;
        queued.at_ms = now;
        svc.hub.publish(ctx.who.account_id, std::string(session_id),
                        model::to_json(queued, model::to_string(type)));
    }
    // The row is committed: hand it over (never blocks; the outbox keeps it if the broker is away).
    if (for_publisher) svc.publisher->submit(std::move(*for_publisher));
}

}  // namespace jobsd::server::handlers

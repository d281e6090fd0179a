// All or none, in three steps: a repeated Idempotency-Key replays the first answer; every job is
// checked (nothing stops at the first bad one, so the client sees every problem at once), then
// the rate limit (one token per job); then one store call commits the whole batch in one
// transaction.
#include "server/handlers/job_batch.hpp"

#include <boost/json/serialize.hpp>

#include "model/api_key.hpp"
#include "model/batch_request.hpp"
#include "model/clock.hpp"
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
namespace json = boost::json;

namespace {

// Checks every job of the batch; adds each problem, with the job's index, to `errors`.
std::vector<model::job> check_jobs(const request_context& ctx, const model::batch_request& batch,
                                   std::int64_t now, json::array& errors) {
    std::vector<model::job> jobs;
    jobs.reserve(batch.jobs.size());
    auto problem = [&](std::size_t i, std::string_view field, std::string_view text) {
        json::object e{{"index", i}};
        if (!field.empty()) e["field"] = field;
        e["problem"] = text;
        errors.push_back(std::move(e));
    };
    const auto limits = create_limits_of(ctx.svc);
    for (std::size_t i = 0; i < batch.jobs.size(); ++i) {
        // Each job as POST /jobs/v2 would take it: no larger than its body limit.
        if (batch.jobs[i].size() > ctx.svc.options.body_limit) {
            problem(i, "",
                    "is " + std::to_string(batch.jobs[i].size()) +
                        " bytes, more than a job may be (server.body_limit, " +
                        std::to_string(ctx.svc.options.body_limit) + " bytes)");
            continue;
        }
        auto parsed = model::parse_create_request(batch.jobs[i], limits);
        if (auto* error = std::get_if<model::request_error>(&parsed)) {
            if (error->errors.empty()) problem(i, "", error->message);
            for (const auto& e : error->errors) problem(i, e.field, e.problem);
            continue;
        }
        const auto& create = std::get<model::create_request>(parsed);
        auto source = model::resolve_source(*ctx.who.catalog, ctx.who.account_id, create, now);
        if (!source.problem.empty()) {
            problem(i, create.template_id.empty() ? "project_id" : "template_id", source.problem);
            continue;
        }
        auto value_errors =
            model::check_job_values(*ctx.who.catalog, ctx.who.account_id, source.id, batch.jobs[i]);
        for (const auto& e : value_errors) problem(i, e.field, e.problem);
        if (value_errors.empty() && errors.empty())
            jobs.push_back(new_job(ctx, create, source.id, batch.jobs[i], now));
    }
    return jobs;
}

// The answer to a repeated Idempotency-Key: the first 201 again, or 422 for another body.
asio::awaitable<response> replay(const request_context& ctx, const model::job& holder,
                                 const std::string& hash) {
    if (holder.request_hash != hash || holder.batch_id.empty())
        co_return message_response(http::status::unprocessable_entity,
                                   "Idempotency-Key was already used with a different request body");
    auto [ec, jobs] =
        co_await store::async_list_batch(ctx.svc.store, ctx.who.account_id, holder.batch_id, use_nothrow);
    throw_on_failure(ec, "read batch " + holder.batch_id);
    auto res = json_response(http::status::created, batch_created_body(jobs));
    res.set("Idempotent-Replayed", "true");
    co_return res;
}

// One token per job, all or none; nullopt when the batch may go on.
std::optional<response> take_tokens(const request_context& ctx, std::size_t jobs,
                                    std::optional<rate_decision>& d) {
    auto& limiter = ctx.svc.gate.limiter;
    if (!limiter.enabled()) return std::nullopt;
    if (static_cast<double>(jobs) > limiter.burst())
        return request_error_response(
            {model::request_error::kind::invalid_fields,
             "Invalid batch",
             {{"jobs", "holds " + std::to_string(jobs) +
                           " jobs, more than this account's rate limit burst (" +
                           std::to_string(static_cast<std::uint64_t>(limiter.burst())) +
                           "); send smaller batches"}}});
    return take_rate_tokens(ctx.svc, ctx.who.account_id, static_cast<double>(jobs), d);
}

}  // namespace

std::optional<response> check_create_batch(const services& svc, const http::request_header<>& header,
                                           caller&) {
    if (auto full = check_outbox_backlog(svc)) return full;
    return check_json_body(header, svc.options.batch_body_limit);
}

asio::awaitable<response> create_batch(const request_context& ctx) {
    // A repeated Idempotency-Key replays first: the first answer stands whatever changed since.
    const std::string_view key = header_value(ctx.req, "Idempotency-Key");
    if (auto bad = check_idempotency_key(key)) co_return std::move(*bad);
    // The prefix keeps a batch's hash apart from any single job body's.
    const std::string hash = key.empty() ? "" : model::sha256_hex("batch\n" + ctx.req.body());
    if (!key.empty())
        if (auto earlier = co_await find_by_key(ctx, key)) co_return co_await replay(ctx, *earlier, hash);

    auto parsed = model::parse_batch_request(ctx.req.body(), ctx.svc.options.batch_max_jobs);
    if (auto* error = std::get_if<model::request_error>(&parsed)) co_return request_error_response(*error);
    const auto now = model::now_ms();
    json::array errors;
    auto jobs = check_jobs(ctx, std::get<model::batch_request>(parsed), now, errors);
    if (!errors.empty())
        co_return json_response(
            http::status::bad_request,
            json::serialize(json::object{{"message", "Invalid batch"}, {"errors", errors}}));

    std::optional<rate_decision> rate;
    if (auto refused = take_tokens(ctx, jobs.size(), rate)) co_return std::move(*refused);

    const std::string batch_id = model::new_uuid();
    std::vector<std::optional<model::job>> for_publisher;
    for (auto& job : jobs) {
        job.batch_id = batch_id;
        admit_to_fair_queue(ctx.svc, job);
        for_publisher.push_back(publisher_copy(ctx.svc, job));
    }
    jobs.front().idempotency_key = std::string(key);
    jobs.front().request_hash = hash;
    auto created = json_response(http::status::created, batch_created_body(jobs));
    std::vector<std::tuple<model::job_type, std::string, std::string, std::string>> announced;
    for (const auto& job : jobs) announced.emplace_back(job.type, job.session_id, job.uuid, job.traceparent);

    auto [ec] = co_await store::async_create_jobs(ctx.svc.store, std::move(jobs), use_nothrow);
    if (ec == store::store_errc::duplicate && !key.empty())
        // A concurrent request with the same key won the race: answer as its repeat.
        if (auto winner = co_await find_by_key(ctx, key)) co_return co_await replay(ctx, *winner, hash);
    throw_on_failure(ec, "create batch " + batch_id);
    for (std::size_t i = 0; i < announced.size(); ++i) {
        const auto& [type, session, uuid, traceparent] = announced[i];
        announce_created(ctx, type, session, uuid, traceparent, now, std::move(for_publisher[i]));
    }
    if (rate) set_rate_headers(created, *rate);
    co_return created;
}

}  // namespace jobsd::server::handlers

// Expected outcomes are answers here; a store failure is thrown to the error boundary
// (server/error_boundary.hpp), which answers 503 or 500. Secrets appear in answers only where the
// route says so, and never in a log line.
#include "server/handlers/webhook_routes.hpp"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <charconv>

#include "model/clock.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_request.hpp"
#include "model/webhook_signature.hpp"
#include "server/body_checks.hpp"
#include "server/error_boundary.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"
#include "server/webhooks/webhook_dispatcher.hpp"
#include "store/store_error.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;
namespace json = boost::json;
using store::webhook_store;

namespace {

constexpr std::size_t default_limit = 20, max_limit = 100;

// The store's webhook side; its absence (a store without one) is an outage for these routes.
webhook_store& hooks(const request_context& ctx) {
    if (!ctx.svc.hooks) throw upstream_failure(store::store_errc::unavailable, "webhooks");
    return *ctx.svc.hooks;
}

json::array event_names(unsigned filter) {
    json::array out;
    for (auto name : model::webhook_event_names(filter)) out.emplace_back(name);
    return out;
}

json::value time_or_null(const std::optional<std::int64_t>& ms) {
    return ms ? json::value(model::format_iso8601(*ms)) : json::value(nullptr);
}

json::object endpoint_json(const store::webhook_endpoint& e) {
    return {{"id", e.id},
            {"url", e.url},
            {"events", event_names(e.events)},
            {"enabled", e.enabled},
            {"disabled_reason", e.disabled_reason ? json::value(*e.disabled_reason) : json::value(nullptr)},
            {"created_at", model::format_iso8601(e.created_ms)}};
}

json::object delivery_json(const store::delivery_info& d) {
    json::array attempts;
    for (const auto& a : d.history)
        attempts.push_back(
            json::object{{"attempt", a.attempt},
                         {"at", model::format_iso8601(a.at_ms)},
                         {"status_code", a.status_code ? json::value(*a.status_code) : nullptr},
                         {"latency_ms", a.latency_ms},
                         {"error", a.error ? json::value(*a.error) : json::value(nullptr)}});
    return {
        {"id", d.id},
        {"job_uuid", d.job_uuid},
        {"event", d.event},
        {"url", d.url},
        {"status", d.status},
        {"attempt_count", d.attempts},
        {"created_at", model::format_iso8601(d.created_ms)},
        {"next_attempt_at", d.status == "pending" ? json::value(model::format_iso8601(d.next_ms)) : nullptr},
        {"done_at", time_or_null(d.done_ms)},
        {"attempts", std::move(attempts)}};
}

// `?limit=N`: 1..max_limit, default_limit when absent; nullopt when malformed.
std::optional<std::size_t> limit_of(std::string_view target) {
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return std::nullopt;
    auto params = url->params();
    auto it = params.find("limit");
    if (it == params.end()) return default_limit;
    const std::string value = (*it).value;
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc{} || end != value.data() + value.size() || n < 1 || n > max_limit)
        return std::nullopt;
    return n;
}

response not_found(std::string_view what) {
    return message_response(http::status::not_found, std::string(what) + " not found");
}

}  // namespace

std::optional<response> check_webhook_body(const services& svc, const http::request_header<>& header,
                                           caller&) {
    return check_json_body(header, svc.options.body_limit);
}

asio::awaitable<response> create_webhook(const request_context& ctx) {
    auto parsed = model::parse_endpoint_request(ctx.req.body());
    if (auto* error = std::get_if<model::request_error>(&parsed)) co_return request_error_response(*error);
    const auto& req = std::get<model::endpoint_request>(parsed);
    store::webhook_endpoint e{model::new_webhook_endpoint_id(),
                              ctx.who.account_id,
                              req.url,
                              req.events,
                              req.enabled,
                              std::nullopt,
                              model::now_ms()};
    const std::string secret = model::new_webhook_secret();
    auto [ec, created] = co_await store::async_webhook<bool>(hooks(ctx), &webhook_store::create_endpoint,
                                                             use_nothrow, e, secret);
    throw_on_failure(ec, "create webhook endpoint");
    auto body = endpoint_json(e);
    body["secret"] = secret;
    co_return json_response(http::status::created, json::serialize(body));
}

asio::awaitable<response> list_webhooks(const request_context& ctx) {
    auto [ec, endpoints] = co_await store::async_webhook<std::vector<store::webhook_endpoint>>(
        hooks(ctx), &webhook_store::list_endpoints, use_nothrow, ctx.who.account_id);
    throw_on_failure(ec, "list webhook endpoints");
    json::array data;
    for (const auto& e : endpoints) data.push_back(endpoint_json(e));
    co_return json_response(http::status::ok, json::serialize(json::object{{"data", std::move(data)}}));
}

asio::awaitable<response> delete_webhook(const request_context& ctx) {
    auto [ec, found] = co_await store::async_webhook<bool>(
        hooks(ctx), &webhook_store::delete_endpoint, use_nothrow, ctx.who.account_id, std::string(ctx.param));
    throw_on_failure(ec, "delete webhook endpoint");
    if (!found) co_return not_found("Webhook endpoint");
    response res{http::status::no_content, 11};
    res.prepare_payload();
    co_return res;
}

asio::awaitable<response> webhook_deliveries(const request_context& ctx) {
    const auto limit = limit_of(ctx.target);
    if (!limit)
        co_return message_response(http::status::bad_request,
                                   "limit must be a whole number from 1 to " + std::to_string(max_limit));
    auto [ec, deliveries] = co_await store::async_webhook<std::optional<std::vector<store::delivery_info>>>(
        hooks(ctx), &webhook_store::list_deliveries, use_nothrow, ctx.who.account_id, std::string(ctx.param),
        *limit);
    throw_on_failure(ec, "list webhook deliveries");
    if (!deliveries) co_return not_found("Webhook endpoint");
    json::array data;
    for (const auto& d : *deliveries) data.push_back(delivery_json(d));
    co_return json_response(http::status::ok, json::serialize(json::object{{"data", std::move(data)}}));
}

asio::awaitable<response> redeliver_webhook(const request_context& ctx) {
    const std::string id(ctx.param);
    auto [ec, found] = co_await store::async_webhook<bool>(hooks(ctx), &webhook_store::redeliver, use_nothrow,
                                                           ctx.who.account_id, id, model::now_ms());
    throw_on_failure(ec, "redeliver " + id);
    if (!found) co_return not_found("Delivery (or its enabled endpoint)");
    if (ctx.svc.dispatcher) ctx.svc.dispatcher->notify();
    co_return json_response(http::status::accepted,
                            json::serialize(json::object{{"id", id}, {"status", "pending"}}));
}

asio::awaitable<response> default_webhook_secret(const request_context& ctx) {
    auto [ec, secret] =
        co_await store::async_webhook<std::string>(hooks(ctx), &webhook_store::account_secret, use_nothrow,
                                                   ctx.who.account_id, model::new_webhook_secret());
    throw_on_failure(ec, "read the default webhook secret");
    co_return json_response(http::status::ok, json::serialize(json::object{{"secret", secret}}));
}

asio::awaitable<response> rotate_webhook_secret(const request_context& ctx) {
    const std::string owner(ctx.param);
    const auto now = model::now_ms();
    const auto until = now + ctx.svc.hook_options.secret_overlap.count();
    const std::string secret = model::new_webhook_secret();
    auto [ec, found] =
        co_await store::async_webhook<bool>(hooks(ctx), &webhook_store::rotate_secret, use_nothrow,
                                            ctx.who.account_id, owner, secret, now, until);
    throw_on_failure(ec, "rotate a webhook secret");
    if (!found) co_return not_found("Webhook endpoint");
    co_return json_response(
        http::status::ok,
        json::serialize(json::object{{"id", owner},
                                     {"secret", secret},
                                     {"previous_secret_expires_at", model::format_iso8601(until)}}));
}

}  // namespace jobsd::server::handlers

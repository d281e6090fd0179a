// webhook: an account's endpoints, their secrets and their deliveries, through the store's webhook
// side (store/webhook_store.hpp) as jobsd itself uses it. Secrets are printed once, never logged.
#include <boost/asio/use_future.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <ostream>

#include "admin/commands.hpp"
#include "admin/output.hpp"
#include "model/clock.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_request.hpp"
#include "model/webhook_signature.hpp"
#include "store/admin_store.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::admin {

namespace json = boost::json;
using store::webhook_store;

namespace {

// Runs one webhook_store member to completion; a store failure throws (main prints it).
template <class Value, class Member, class... Args>
Value wait_for(context& ctx, Member member, Args... args) {
    return store::async_webhook<Value>(ctx.webhooks(), member, boost::asio::use_future, std::move(args)...)
        .get();
}

void require_account(context& ctx, const std::string& id) {
    for (const auto& a : ctx.store().list_accounts())
        if (a.id == id) return;
    fail(store::admin_errc::unknown_account, id);
}

std::string event_text(unsigned filter) {
    std::string out;
    for (auto name : model::webhook_event_names(filter)) out += (out.empty() ? "" : ",") + std::string(name);
    return out;
}

json::array event_array(unsigned filter) {
    json::array out;
    for (auto name : model::webhook_event_names(filter)) out.emplace_back(name);
    return out;
}

// --events "a,b" as the API's JSON array, so both refuse the same input with the same words.
model::endpoint_request parse_endpoint(const std::string& url, const invocation& inv) {
    json::object body{{"url", url}, {"enabled", !inv.has("--disabled")}};
    if (inv.has("--events")) {
        json::array events;
        const std::string list = inv.value("--events");
        for (std::size_t start = 0; start <= list.size();) {
            const auto comma = std::min(list.find(',', start), list.size());
            events.emplace_back(list.substr(start, comma - start));
            start = comma + 1;
        }
        body["events"] = std::move(events);
    }
    auto parsed = model::parse_endpoint_request(json::serialize(body));
    if (auto* error = std::get_if<model::request_error>(&parsed)) {
        std::string text;
        for (const auto& e : error->errors) text += (text.empty() ? "" : "; ") + e.field + " " + e.problem;
        throw cli_error(text.empty() ? error->message : text, exit_usage);
    }
    return std::get<model::endpoint_request>(parsed);
}

command webhook_add() {
    return {"webhook",
            "add",
            {"ACCOUNT", "URL"},
            {{"--events", "LIST", "comma-separated events (default: the terminal ones)"},
             {"--disabled", "", "add it disabled (nothing is recorded for it until enabled)"}},
            "add a webhook endpoint to an account; prints its signing secret once",
            "Events: " + model::webhook_event_list() +
                ".\nThe secret (whsec_…) is shown only now; `webhook rotate-secret` replaces it.",
            [](const invocation& inv, context& ctx) {
                require_account(ctx, inv.args[0]);
                const auto req = parse_endpoint(inv.args[1], inv);
                store::webhook_endpoint e{model::new_webhook_endpoint_id(),
                                          inv.args[0],
                                          req.url,
                                          req.events,
                                          req.enabled,
                                          std::nullopt,
                                          model::now_ms()};
                const std::string secret = model::new_webhook_secret();
                wait_for<bool>(ctx, &webhook_store::create_endpoint, e, secret);
                if (ctx.json)
                    write_json(ctx.out, json::object{{"id", e.id}, {"secret", secret}});
                else
                    ctx.out << e.id << " " << secret << "\n";
                ctx.err << "endpoint " << e.id << " for " << e.account_id << " (" << event_text(e.events)
                        << "). Its secret is shown only this once.\n";
            }};
}

command webhook_list() {
    return {
        "webhook",
        "list",
        {},
        {{"--account", "A", "only this account's endpoints"}},
        "list webhook endpoints (never their secrets)",
        "",
        [](const invocation& inv, context& ctx) {
            const auto endpoints = wait_for<std::vector<store::webhook_endpoint>>(
                ctx, &webhook_store::list_endpoints, inv.value("--account"));
            if (ctx.json) {
                json::array out;
                for (const auto& e : endpoints)
                    out.push_back(json::object{
                        {"id", e.id},
                        {"account_id", e.account_id},
                        {"url", e.url},
                        {"events", event_array(e.events)},
                        {"enabled", e.enabled},
                        {"disabled_reason", e.disabled_reason ? json::value(*e.disabled_reason) : nullptr},
                        {"created_at", time_json(e.created_ms)}});
                write_json(ctx.out, out);
                return;
            }
            std::vector<table_row> rows;
            for (const auto& e : endpoints)
                rows.push_back({e.id, e.account_id, e.url, event_text(e.events),
                                e.enabled ? "yes" : "no (" + e.disabled_reason.value_or("disabled") + ")",
                                time_text(e.created_ms)});
            write_table(ctx.out, {"ID", "ACCOUNT", "URL", "EVENTS", "ENABLED", "CREATED"}, rows);
        }};
}

command webhook_remove() {
    return {
        "webhook",
        "remove",
        {"ID"},
        {},
        "remove an endpoint; its pending deliveries are cancelled",
        "",
        [](const invocation& inv, context& ctx) {
            if (!wait_for<bool>(ctx, &webhook_store::delete_endpoint, std::string(), inv.args[0]))
                throw cli_error("unknown webhook endpoint \"" + inv.args[0] + "\" (webhook list shows them)");
            ctx.err << "endpoint " << inv.args[0] << " removed\n";
        }};
}

command webhook_rotate_secret() {
    return {"webhook",
            "rotate-secret",
            {"ID"},
            {{"--account", "A", "the account (required when ID is \"default\")"},
             {"--overlap-hours", "H", "how long the previous secret keeps signing (default 24)"}},
            "give an endpoint (or an account's default secret) a new secret; prints it once",
            "ID: an endpoint id, or \"default\" for the secret that signs the URLs jobs name themselves.\n"
            "During the overlap every delivery carries both signatures, so receivers can switch over.",
            [](const invocation& inv, context& ctx) {
                const std::string owner = inv.args[0], account = inv.value("--account");
                if (owner == store::default_secret_name && account.empty())
                    throw cli_error("the default secret is an account's: give --account", exit_usage);
                const auto hours =
                    parse_count("--overlap-hours", inv.value("--overlap-hours", "24"), 0, 24 * 30);
                const auto now = model::now_ms();
                const auto until = now + static_cast<std::int64_t>(hours) * 3600 * 1000;
                const std::string secret = model::new_webhook_secret();
                if (!wait_for<bool>(ctx, &webhook_store::rotate_secret, account, owner, secret, now, until))
                    throw cli_error("unknown webhook endpoint \"" + owner + "\"" +
                                    (account.empty() ? "" : " of account \"" + account + "\""));
                if (ctx.json)
                    write_json(ctx.out, json::object{{"id", owner},
                                                     {"secret", secret},
                                                     {"previous_secret_expires_at", time_json(until)}});
                else
                    ctx.out << secret << "\n";
                ctx.err << "new secret for " << owner << "; the previous one signs too until "
                        << time_text(until) << ". It is shown only this once.\n";
            }};
}

json::object delivery_json(const store::delivery_info& d) {
    json::array attempts;
    for (const auto& a : d.history)
        attempts.push_back(
            json::object{{"attempt", a.attempt},
                         {"at", time_json(a.at_ms)},
                         {"status_code", a.status_code ? json::value(*a.status_code) : nullptr},
                         {"latency_ms", a.latency_ms},
                         {"error", a.error ? json::value(*a.error) : nullptr}});
    return {{"id", d.id},
            {"job_uuid", d.job_uuid},
            {"event", d.event},
            {"url", d.url},
            {"status", d.status},
            {"attempt_count", d.attempts},
            {"created_at", time_json(d.created_ms)},
            {"done_at", time_json(d.done_ms)},
            {"attempts", std::move(attempts)}};
}

command webhook_deliveries() {
    return {
        "webhook",
        "deliveries",
        {"ID"},
        {{"--account", "A", "the account (required when ID is \"default\")"},
         {"--limit", "N", "the newest N deliveries (default 20)"}},
        "list an endpoint's newest deliveries with every attempt (status code, latency, error)",
        "ID: an endpoint id, or \"default\" for the deliveries to the URLs an account's jobs name.",
        [](const invocation& inv, context& ctx) {
            const std::string owner = inv.args[0], account = inv.value("--account");
            if (owner == store::default_secret_name && account.empty())
                throw cli_error("the default deliveries are an account's: give --account", exit_usage);
            const auto limit = parse_count("--limit", inv.value("--limit", "20"), 1, 10'000);
            const auto found = wait_for<std::optional<std::vector<store::delivery_info>>>(
                ctx, &webhook_store::list_deliveries, account, owner, limit);
            if (!found) throw cli_error("unknown webhook endpoint \"" + owner + "\"");
            if (ctx.json) {
                json::array out;
                for (const auto& d : *found) out.push_back(delivery_json(d));
                write_json(ctx.out, out);
                return;
            }
            std::vector<table_row> rows;
            for (const auto& d : *found) {
                if (d.history.empty())
                    rows.push_back({d.id, d.event, d.status, "0", "-", "-", "-", "not tried yet"});
                for (const auto& a : d.history)
                    rows.push_back({d.id, d.event, d.status, std::to_string(a.attempt), time_text(a.at_ms),
                                    a.status_code ? std::to_string(*a.status_code) : "-",
                                    std::to_string(a.latency_ms) + " ms", a.error.value_or("")});
            }
            write_table(ctx.out, {"DELIVERY", "EVENT", "STATUS", "ATTEMPT", "AT", "CODE", "LATENCY", "ERROR"},
                        rows);
        }};
}

}  // namespace

std::vector<command> webhook_commands() {
    return {webhook_add(), webhook_list(), webhook_remove(), webhook_rotate_secret(), webhook_deliveries()};
}

}  // namespace jobsd::admin

// Operator handlers. Every broker or store read here is asynchronous (management API over an
// async HTTP client, store reads on its reader threads) and cached, so watching the system costs
// the io threads almost nothing and the job path nothing at all.
#include "server/operator_api.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "model/clock.hpp"
#include "server/dashboard_assets.hpp"
#include "server/use_nothrow.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::server {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Per type: the jobs per status and, when known, how many are stuck.
json::value counts_json(const std::vector<store::job_count>& counts,
                        const std::vector<store::job_count>* stuck) {
    json::array out;
    for (auto t : model::all_job_types) {
        std::uint64_t stuck_here = 0;
        if (stuck)
            for (const auto& c : *stuck)
                if (c.type == t) stuck_here += c.count;
        json::object by_status;
        std::uint64_t total = 0;
        for (auto st : model::all_job_statuses) {
            std::uint64_t n = 0;
            for (const auto& c : counts)
                if (c.type == t && c.status == st) n += c.count;
            by_status[model::to_string(st)] = n;
            total += n;
        }
        json::object row{
            {"job_type", model::to_string(t)}, {"total", total}, {"counts", std::move(by_status)}};
        row["stuck"] = stuck ? json::value(stuck_here) : json::value(nullptr);
        out.push_back(std::move(row));
    }
    return out;
}

json::value optional_number(const std::optional<double>& v, double scale) {
    if (!v) return nullptr;
    return *v * scale;
}

// Attempts the dashboard's webhooks panel lists, newest first.
constexpr std::size_t dashboard_attempts = 20;

json::value attempt_json(const store::recent_attempt& r) {
    const auto& a = r.attempt;
    return json::object{{"delivery_id", r.delivery_id},
                        {"account_id", r.account_id},
                        {"endpoint_id", r.endpoint_id ? json::value(*r.endpoint_id) : nullptr},
                        {"url", r.url},
                        {"event", r.event},
                        {"attempt", a.attempt},
                        {"at", model::format_iso8601(a.at_ms)},
                        {"status_code", a.status_code ? json::value(*a.status_code) : nullptr},
                        {"latency_ms", a.latency_ms},
                        {"error", a.error ? json::value(*a.error) : nullptr}};
}

}  // namespace

// The webhooks panel: the backlog and the newest attempts; null when the store keeps none.
asio::awaitable<json::value> operator_api::webhooks_json() {
    auto* hooks = store_.webhooks();
    if (!hooks) co_return nullptr;
    const auto now = model::now_ms();
    auto [sec, stats] = co_await store::async_webhook<store::webhook_stats>(
        *hooks, &store::webhook_store::read_webhook_stats, use_nothrow, now);
    auto [aec, attempts] = co_await store::async_webhook<std::vector<store::recent_attempt>>(
        *hooks, &store::webhook_store::recent_attempts, use_nothrow, dashboard_attempts);
    json::object out;
    if (!sec) {
        const double age =
            stats.oldest_due_ms ? std::max<double>(0, double(now - *stats.oldest_due_ms) / 1000.0) : 0;
        out["pending"] = stats.pending;
        out["due"] = stats.due;
        out["oldest_due_age_seconds"] = age;
    }
    json::array recent;
    for (const auto& r : attempts) recent.push_back(attempt_json(r));
    out["recent_attempts"] = aec ? json::value(nullptr) : json::value(std::move(recent));
    co_return out;
}

operator_api::operator_api(const config& cfg, store::store& store, const metrics& metrics,
                           const queue::publisher* publisher)
    : server_(cfg.server),
      amqp_(cfg.amqp),
      store_(store),
      metrics_(metrics),
      publisher_(publisher),
      views_(cfg.amqp.queue_view_cache),
      counts_(cfg.server.job_counts_refresh),
      lifecycle_(cfg.store.common.lifecycle),
      stuck_(cfg.lifecycle.stuck_refresh),
      history_(cfg.server.dashboard_history_s + 1) {
    if (!amqp_.management_url.empty()) {
        auto e = parse_management_url(amqp_.management_url, amqp_.urls.empty() ? "" : amqp_.urls.front());
        if (e) management_ = std::move(*e);
    }
    if (amqp_.enabled) passive_ = std::make_unique<passive_queue_reader>(amqp_);
}

asio::awaitable<operator_api::view_result> operator_api::queue_view_now() {
    if (!amqp_.enabled)
        co_return view_result(boost::system::in_place_error,
                              "publishing is off (amqp.enabled is false): there is no broker to read");
    if (auto cached = views_.fresh()) co_return std::move(*cached);
    view_result view(boost::system::in_place_error, "");
    if (management_) {
        auto body = co_await fetch_queue_list(*management_, amqp_.management_timeout);
        view = body ? parse_management_queues(*body, amqp_, model::now_ms())
                    : view_result(boost::system::in_place_error, body.error());
    }
    if (!view) {
        // No management API, or it failed (plugin off, wrong credentials, broker away): ask the
        // broker over AMQP instead, which knows all but the unacked messages.
        auto passive = co_await passive_->async_read(asio::use_awaitable);
        if (passive)
            view = std::move(passive);
        else
            view = view_result(boost::system::in_place_error,
                               management_ ? view.error() + "; passive declare fallback: " + passive.error()
                                           : passive.error());
    }
    if (!view) spdlog::warn("queue view: {}", view.error());
    views_.put(view);
    co_return view;
}

asio::awaitable<response> operator_api::queues() {
    auto view = co_await queue_view_now();
    if (!view) {
        auto res =
            message_response(http::status::service_unavailable, "Queue view unavailable: " + view.error());
        res.set(http::field::retry_after, "1");
        co_return res;
    }
    co_return json_response(http::status::ok, json::serialize(to_json(*view)));
}

asio::awaitable<std::optional<std::vector<store::job_count>>> operator_api::job_counts() {
    if (auto cached = counts_.fresh()) co_return cached;
    auto [ec, counts] = co_await store::async_count_jobs(store_, use_nothrow);
    if (ec) {
        spdlog::warn("job counts unavailable: {}", ec.message());
        co_return std::nullopt;
    }
    counts_.put(counts);
    co_return counts;
}

asio::awaitable<std::optional<std::vector<store::job_count>>> operator_api::stuck_counts() {
    if (auto cached = stuck_.fresh()) co_return cached;
    const auto now = model::now_ms();
    std::array<std::int64_t, model::all_job_types.size()> cutoffs{};
    for (auto t : model::all_job_types)
        cutoffs[static_cast<std::size_t>(t)] =
            now - std::chrono::duration_cast<std::chrono::milliseconds>(lifecycle_.of(t).stuck_after).count();
    // Counted, not shown: a bound keeps a pathological backlog from costing a huge read.
    auto [ec, jobs] = co_await store::async_list_stuck_jobs(store_, cutoffs, 100'000, use_nothrow);
    if (ec) {
        spdlog::warn("stuck jobs unavailable: {}", ec.message());
        co_return std::nullopt;
    }
    std::vector<store::job_count> counts;
    for (auto t : model::all_job_types) {
        std::uint64_t n = 0;
        for (const auto& j : jobs) n += j.type == t;
        if (n) counts.push_back({t, model::job_status::in_progress, n});
    }
    stuck_.put(counts);
    co_return counts;
}

void operator_api::sample_ingest() {
    history_.add({model::now_ms(), metrics_.jobs_created_total(),
                  metrics_.latency_buckets(metrics_.slot_of("create_job"))});
}

asio::awaitable<response> operator_api::dashboard_data() {
    json::object body{{"generated_at", model::format_iso8601(model::now_ms())}};
    const auto* pub = publisher_ ? &publisher_->stats() : nullptr;
    body["broker"] = !pub ? "disabled" : !pub->connected ? "down" : pub->blocked ? "blocked" : "connected";

    auto view = co_await queue_view_now();
    if (view) {
        body["queues"] = to_json(*view);
    } else {
        body["queues"] = nullptr;
        body["queues_error"] = view.error();
    }

    auto counts = co_await job_counts();
    auto stuck = co_await stuck_counts();
    body["jobs"] = counts ? counts_json(*counts, stuck ? &*stuck : nullptr) : json::value(nullptr);

    auto [oec, outbox] =
        co_await store::async_read_outbox_stats(store_, store::outbox_detail::total, use_nothrow);
    if (oec) {
        body["outbox"] = nullptr;
    } else {
        const double age =
            outbox.oldest_created_ms
                ? std::max<double>(0,
                                   static_cast<double>(model::now_ms() - *outbox.oldest_created_ms) / 1000.0)
                : 0.0;
        body["outbox"] = json::object{{"unpublished", outbox.unpublished}, {"oldest_age_seconds", age}};
    }

    json::array points;
    for (const auto& p : history_.points())
        points.push_back(json::object{{"at_ms", p.at_ms},
                                      {"jobs_per_second", p.jobs_per_second},
                                      {"requests", p.requests},
                                      {"p50_ms", optional_number(p.p50_seconds, 1000)},
                                      {"p99_ms", optional_number(p.p99_seconds, 1000)}});
    body["ingest"] = json::object{{"interval_seconds", 1}, {"points", std::move(points)}};

    auto [rec, recent] =
        co_await store::async_list_recent_jobs(store_, server_.dashboard_recent_jobs, use_nothrow);
    json::array jobs;
    for (const auto& j : recent) {
        json::object o{{"uuid", j.uuid},
                       {"account_id", j.account_id},
                       {"job_type", model::to_string(j.type)},
                       {"job_status", model::to_string(j.status)},
                       {"created_at", model::format_iso8601(j.created_ms)},
                       {"updated_at", model::format_iso8601(j.updated_ms)}};
        if (j.progress) o["progress"] = *j.progress;
        jobs.push_back(std::move(o));
    }
    body["recent_jobs"] = rec ? json::value(nullptr) : json::value(std::move(jobs));
    body["webhooks"] = co_await webhooks_json();
    co_return json_response(http::status::ok, json::serialize(body));
}

response operator_api::dashboard_page(std::string_view file) const {
    auto asset = find_dashboard_asset(file.empty() ? "index.html" : file);
    if (!asset) return message_response(http::status::not_found, "Not found");
    response res{http::status::ok, 11};
    res.set(http::field::content_type, asset->content_type);
    // The page holds no data (that comes from /api/dashboard with the key); revalidate so a new
    // jobsd's page is picked up at once.
    res.set(http::field::cache_control, "no-cache");
    set_page_security_headers(res);
    res.body() = std::string(asset->body);
    res.prepare_payload();
    return res;
}

}  // namespace jobsd::server

// Prometheus text exposition, version 0.0.4.
#include "server/metrics.hpp"

#include <algorithm>
#include <cstdio>

#include "model/clock.hpp"

namespace jobsd::server {

std::string metrics::render(const store::store_stats& store, const store::outbox_stats* outbox,
                            const std::vector<store::job_count>* jobs) const {
    const auto* publisher = publisher_;
    std::string out;
    out.reserve(4096);
    auto line = [&out](std::string_view name, std::string_view labels, auto value) {
        out.append(name);
        if (!labels.empty()) out.append("{").append(labels).append("}");
        out.append(" ").append(std::to_string(value)).append("\n");
    };
    out +=
        "# HELP jobsd_http_responses_total HTTP responses sent, by status code.\n"
        "# TYPE jobsd_http_responses_total counter\n";
    for (std::size_t code = 100; code < responses_.size(); ++code)
        if (auto n = responses_[code].load(std::memory_order_relaxed))
            line("jobsd_http_responses_total", "code=\"" + std::to_string(code) + "\"", n);
    out +=
        "# HELP jobsd_http_request_duration_seconds From a request's first header byte to its answer "
        "written, by route.\n# TYPE jobsd_http_request_duration_seconds histogram\n";
    for (std::size_t r = 0; r < latency_.size(); ++r) {
        const auto& h = latency_[r];
        std::uint64_t cumulative = 0;
        std::array<std::uint64_t, latency_bounds.size() + 1> counts{};
        for (std::size_t b = 0; b < counts.size(); ++b)
            counts[b] = h.buckets[b].load(std::memory_order_relaxed);
        std::uint64_t total = 0;
        for (auto c : counts) total += c;
        if (total == 0) continue;
        const std::string name(route_name(static_cast<route>(r)));
        for (std::size_t b = 0; b < latency_bounds.size(); ++b) {
            cumulative += counts[b];
            char le[32];
            std::snprintf(le, sizeof le, "%g", latency_bounds[b]);
            line("jobsd_http_request_duration_seconds_bucket", "route=\"" + name + "\",le=\"" + le + "\"",
                 cumulative);
        }
        line("jobsd_http_request_duration_seconds_bucket", "route=\"" + name + "\",le=\"+Inf\"", total);
        char sum[48];
        std::snprintf(sum, sizeof sum, "%.9f",
                      static_cast<double>(h.sum_ns.load(std::memory_order_relaxed)) / 1e9);
        out += "jobsd_http_request_duration_seconds_sum{route=\"" + name + "\"} " + sum + "\n";
        line("jobsd_http_request_duration_seconds_count", "route=\"" + name + "\"", total);
    }
    out += "# HELP jobsd_http_connections Open client connections.\n# TYPE jobsd_http_connections gauge\n";
    line("jobsd_http_connections", "", connections_.load(std::memory_order_relaxed));
    out +=
        "# HELP jobsd_jobs_created_total Jobs committed and answered 201, by job type.\n"
        "# TYPE jobsd_jobs_created_total counter\n";
    for (auto t : model::all_job_types)
        line("jobsd_jobs_created_total", "job_type=\"" + std::string(model::to_string(t)) + "\"",
             jobs_created_[static_cast<std::size_t>(t)].load(std::memory_order_relaxed));
    out +=
        "# HELP jobsd_store_transactions_total Write transactions committed by the store.\n"
        "# TYPE jobsd_store_transactions_total counter\n";
    line("jobsd_store_transactions_total", "", store.transactions);
    out +=
        "# HELP jobsd_store_jobs_committed_total Jobs committed by the store (group commit: many per "
        "transaction).\n# TYPE jobsd_store_jobs_committed_total counter\n";
    line("jobsd_store_jobs_committed_total", "", store.jobs_committed);
    out +=
        "# HELP jobsd_store_write_queue Write operations waiting for the store's writer.\n"
        "# TYPE jobsd_store_write_queue gauge\n";
    line("jobsd_store_write_queue", "", store.write_queue);
    if (outbox) {
        out +=
            "# HELP jobsd_outbox_unpublished Committed jobs not yet confirmed by the broker.\n"
            "# TYPE jobsd_outbox_unpublished gauge\n";
        line("jobsd_outbox_unpublished", "", outbox->unpublished);
        out +=
            "# HELP jobsd_outbox_oldest_age_seconds Age of the oldest unpublished job (0 when none).\n"
            "# TYPE jobsd_outbox_oldest_age_seconds gauge\n";
        const double age =
            outbox->oldest_created_ms
                ? std::max<double>(0,
                                   static_cast<double>(model::now_ms() - *outbox->oldest_created_ms) / 1000.0)
                : 0.0;
        out += "jobsd_outbox_oldest_age_seconds " + std::to_string(age) + "\n";
    }
    if (jobs) {
        // Every type and status is written, zeros included, so a series drops to 0 rather than
        // vanishing when its last job moves on.
        out +=
            "# HELP jobsd_jobs Jobs in the store by type and status (read every few seconds).\n"
            "# TYPE jobsd_jobs gauge\n";
        for (auto t : model::all_job_types)
            for (auto st : model::all_job_statuses) {
                std::uint64_t n = 0;
                for (const auto& c : *jobs)
                    if (c.type == t && c.status == st) n += c.count;
                line("jobsd_jobs",
                     "job_type=\"" + std::string(model::to_string(t)) + "\",status=\"" +
                         std::string(model::to_string(st)) + "\"",
                     n);
            }
    }
    if (publisher) {
        auto counter = [&](std::string_view name, std::string_view help,
                           const std::atomic<std::uint64_t>& v) {
            out.append("# HELP ")
                .append(name)
                .append(" ")
                .append(help)
                .append("\n# TYPE ")
                .append(name)
                .append(" counter\n");
            line(name, "", v.load(std::memory_order_relaxed));
        };
        counter("jobsd_amqp_published_total", "Job messages published (first sends and resends).",
                publisher->published);
        counter("jobsd_amqp_confirmed_total", "Job messages confirmed by the broker.", publisher->confirmed);
        counter("jobsd_amqp_nacked_total", "Job messages nacked by the broker (then retried).",
                publisher->nacked);
        counter("jobsd_amqp_returned_total", "Job messages returned unroutable (then retried).",
                publisher->returned);
        counter("jobsd_amqp_republished_total", "Job messages sent again: relay, retries.",
                publisher->republished);
        counter("jobsd_amqp_reconnects_total", "Broker connections made after the first.",
                publisher->reconnects);
        counter("jobsd_amqp_deferred_total", "Jobs left to the relay (broker away or hand-over full).",
                publisher->deferred);
        out +=
            "# HELP jobsd_amqp_connected Whether the publisher is connected to a broker.\n"
            "# TYPE jobsd_amqp_connected gauge\n";
        line("jobsd_amqp_connected", "", publisher->connected.load() ? 1 : 0);
    }
    out +=
        "# HELP jobsd_events_applied_total Status events that moved a job forward.\n"
        "# TYPE jobsd_events_applied_total counter\n";
    line("jobsd_events_applied_total", "", store.events_applied);
    if (events_) {
        auto counter = [&](std::string_view name, std::string_view help,
                           const std::atomic<std::uint64_t>& v) {
            out.append("# HELP ")
                .append(name)
                .append(" ")
                .append(help)
                .append("\n# TYPE ")
                .append(name)
                .append(" counter\n");
            line(name, "", v.load(std::memory_order_relaxed));
        };
        counter("jobsd_events_received_total", "Status events consumed from the broker.", events_->received);
        counter("jobsd_events_malformed_total", "Status or dead-lettered messages dropped as malformed.",
                events_->malformed);
        counter("jobsd_jobs_dead_lettered_total", "Jobs that came back dead-lettered and were marked FAILED.",
                events_->dead_lettered);
    }
    if (hub_) {
        out +=
            "# HELP jobsd_notification_subscribers Open notification streams.\n"
            "# TYPE jobsd_notification_subscribers gauge\n";
        line("jobsd_notification_subscribers", "", hub_->subscribers());
    }
    return out;
}

}  // namespace jobsd::server

// Prometheus text exposition, version 0.0.4: one family after another, each with its HELP and
// TYPE lines.
#include "server/metrics.hpp"

#include <algorithm>
#include <cstdio>

#include "model/clock.hpp"
#include "server/webhooks/webhook_dispatcher.hpp"

namespace jobsd::server {

namespace {

// Appends families and samples to one text.
class exposition {
  public:
    explicit exposition(std::string& out) : out_(out) {}

    void family(std::string_view name, std::string_view help, std::string_view type) {
        out_.append("# HELP ").append(name).append(" ").append(help);
        out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
    }
    template <class T>
    void sample(std::string_view name, std::string_view labels, T value) {
        out_.append(name);
        if (!labels.empty()) out_.append("{").append(labels).append("}");
        out_.append(" ").append(std::to_string(value)).append("\n");
    }
    template <class T>
    void single(std::string_view name, std::string_view help, std::string_view type, T value) {
        family(name, help, type);
        sample(name, "", value);
    }
    void counter(std::string_view name, std::string_view help, const std::atomic<std::uint64_t>& v) {
        single(name, help, "counter", v.load(std::memory_order_relaxed));
    }
    std::string& text() { return out_; }

  private:
    std::string& out_;
};

void render_outbox(exposition& x, const store::outbox_stats& outbox) {
    x.single("jobsd_outbox_unpublished",
             "Committed jobs in the outbox, not yet confirmed by the broker (jobs held in the fair queue are "
             "not counted).",
             "gauge", outbox.unpublished);
    const double age =
        outbox.oldest_created_ms
            ? std::max<double>(0, static_cast<double>(model::now_ms() - *outbox.oldest_created_ms) / 1000.0)
            : 0.0;
    x.single("jobsd_outbox_oldest_age_seconds", "Age of the oldest unpublished job (0 when none).", "gauge",
             age);
}

// Every type and status is written, zeros included, so a series drops to 0 rather than vanishing
// when its last job moves on.
void render_job_counts(exposition& x, const std::vector<store::job_count>& jobs) {
    x.family("jobsd_jobs", "Jobs in the store by type and status (read every few seconds).", "gauge");
    for (auto t : model::all_job_types)
        for (auto st : model::all_job_statuses) {
            std::uint64_t n = 0;
            for (const auto& c : jobs)
                if (c.type == t && c.status == st) n += c.count;
            x.sample("jobsd_jobs",
                     "job_type=\"" + std::string(model::to_string(t)) + "\",status=\"" +
                         std::string(model::to_string(st)) + "\"",
                     n);
        }
}

void render_publisher(exposition& x, const queue::publisher_stats& p) {
    x.counter("jobsd_amqp_published_total", "Job messages published (first sends and resends).", p.published);
    x.counter("jobsd_amqp_confirmed_total", "Job messages confirmed by the broker.", p.confirmed);
    x.counter("jobsd_amqp_nacked_total", "Job messages nacked by the broker (their type paused).", p.nacked);
    x.counter("jobsd_amqp_returned_total", "Job messages returned unroutable (their type paused).",
              p.returned);
    x.counter("jobsd_amqp_republished_total", "Job messages sent again: relayed from the outbox.",
              p.republished);
    x.counter("jobsd_amqp_reconnects_total", "Broker connections made after the first.", p.reconnects);
    x.counter("jobsd_amqp_deferred_total", "Jobs left to the relay (broker away or hand-over full).",
              p.deferred);
    x.single("jobsd_amqp_connected", "Whether the publisher is connected to a broker.", "gauge",
             p.connected.load() ? 1 : 0);
    x.single("jobsd_amqp_blocked", "Whether the broker blocked the publisher (a resource alarm).", "gauge",
             p.blocked.load() ? 1 : 0);
    x.counter("jobsd_outbox_errors_total", "Outbox reads, marks and claim renewals the store failed.",
              p.outbox_errors);
    x.counter("jobsd_outbox_claims_lapsed_total",
              "Jobs not sent because their outbox claim may have lapsed or was taken over.", p.claims_lapsed);
    x.counter("jobsd_outbox_claims_lost_total", "Outbox claims another instance took over before renewal.",
              p.claims_lost);
    x.counter("jobsd_outbox_marked_late_total",
              "Jobs marked published after their outbox claim may have lapsed (possibly sent twice).",
              p.marked_late);
    x.single("jobsd_amqp_queues_with_other_arguments",
             "Queues found declared with other arguments, kept as they are (see the README).", "gauge",
             p.queues_kept.load());
    x.family("jobsd_amqp_type_paused",
             "Whether a job type is paused because the broker returned or nacked its messages.", "gauge");
    for (auto t : model::all_job_types)
        x.sample("jobsd_amqp_type_paused", "job_type=\"" + std::string(model::to_string(t)) + "\"",
                 p.type_paused[static_cast<std::size_t>(t)].load() ? 1 : 0);
    x.family("jobsd_amqp_type_pauses_total", "Pauses of a job type whose messages were returned or nacked.",
             "counter");
    for (auto t : model::all_job_types)
        x.sample("jobsd_amqp_type_pauses_total", "job_type=\"" + std::string(model::to_string(t)) + "\"",
                 p.type_pauses[static_cast<std::size_t>(t)].load());
}

void render_events(exposition& x, const queue::event_consumer_stats& e) {
    x.counter("jobsd_events_received_total", "Status events consumed from the broker.", e.received);
    x.counter("jobsd_events_malformed_total", "Status or dead-lettered messages dropped as malformed.",
              e.malformed);
    x.counter("jobsd_jobs_dead_lettered_total",
              "Jobs that came back dead-lettered and were marked FAILED, or EXPIRED when their time ran out.",
              e.dead_lettered);
}

void render_webhook_backlog(exposition& x, const store::webhook_stats& w) {
    x.single("jobsd_webhook_backlog", "Webhook deliveries not yet delivered, failed or cancelled.", "gauge",
             w.pending);
    x.single("jobsd_webhook_due", "Webhook deliveries due now (the backlog minus scheduled retries).",
             "gauge", w.due);
    const double age =
        w.oldest_due_ms
            ? std::max<double>(0, static_cast<double>(model::now_ms() - *w.oldest_due_ms) / 1000.0)
            : 0.0;
    x.single("jobsd_webhook_oldest_due_age_seconds",
             "How long the oldest due delivery has waited (0 when none).", "gauge", age);
}

void render_dispatcher(exposition& x, const webhooks::dispatcher_stats& d) {
    x.family("jobsd_webhook_attempts_total", "Webhook attempts, by what became of their delivery.",
             "counter");
    x.sample("jobsd_webhook_attempts_total", "outcome=\"delivered\"", d.delivered.load());
    x.sample("jobsd_webhook_attempts_total", "outcome=\"retried\"", d.retried.load());
    x.sample("jobsd_webhook_attempts_total", "outcome=\"failed\"", d.failed.load());
    x.sample("jobsd_webhook_attempts_total", "outcome=\"gone\"", d.gone.load());
    x.single("jobsd_webhook_in_flight", "Webhook attempts being sent now.", "gauge", d.in_flight.load());
    x.single("jobsd_webhook_waiting", "Claimed deliveries waiting for a slot of their endpoint.", "gauge",
             d.waiting.load());
    x.single("jobsd_webhook_yield_seconds_total",
             "Time the dispatcher's claims waited while ingestion kept the store's writer busy.", "counter",
             static_cast<double>(d.yielded_ms.load()) / 1000.0);
    x.family("jobsd_webhook_attempt_duration_seconds", "From the start of a webhook attempt to its end.",
             "histogram");
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < d.bounds.size(); ++b) {
        cumulative += d.latency[b].load();
        char le[32];
        std::snprintf(le, sizeof le, "le=\"%g\"", d.bounds[b]);
        x.sample("jobsd_webhook_attempt_duration_seconds_bucket", le, cumulative);
    }
    cumulative += d.latency[d.bounds.size()].load();
    x.sample("jobsd_webhook_attempt_duration_seconds_bucket", "le=\"+Inf\"", cumulative);
    char sum[48];
    std::snprintf(sum, sizeof sum, "%.3f", static_cast<double>(d.latency_sum_ms.load()) / 1000.0);
    x.text() += std::string("jobsd_webhook_attempt_duration_seconds_sum ") + sum + "\n";
    x.sample("jobsd_webhook_attempt_duration_seconds_count", "", cumulative);
}

void render_control(exposition& x, const queue::control_publisher_stats& c) {
    x.counter("jobsd_control_published_total", "Control messages (cancel requests) sent to workers.",
              c.published);
    x.counter("jobsd_control_confirmed_total", "Control messages confirmed by the broker.", c.confirmed);
    x.counter("jobsd_control_failed_total", "Control messages nacked or returned (then sent again).",
              c.failed);
    x.single("jobsd_control_connected", "Whether the control publisher is connected to a broker.", "gauge",
             c.connected.load() ? 1 : 0);
}

void render_status_relay(exposition& x, const queue::status_relay& r) {
    const auto& s = r.stats();
    x.counter("jobsd_status_relay_forwarded_total",
              "Live session events sent to the other jobsd instances (while one has a stream open).",
              s.forwarded);
    x.counter("jobsd_status_relay_received_total",
              "Live session events received from the other jobsd instances.", s.received);
    x.counter("jobsd_status_relay_dropped_total",
              "Live session events not sent: the relay was disconnected or far behind.", s.dropped);
    x.single("jobsd_status_relay_listened_elsewhere",
             "Whether another jobsd instance has a session stream open (it said so in the last 3 s).",
             "gauge", r.listened_elsewhere() ? 1 : 0);
}

}  // namespace

void metrics::render_lifecycle(std::string& out, const std::vector<store::job_count>* stuck) const {
    exposition x(out);
    x.single("jobsd_jobs_cancel_requests_total", "Cancels that changed a job (repeats not counted).",
             "counter", cancels_.load(std::memory_order_relaxed));
    x.family("jobsd_jobs_retried_total", "New attempts of jobs, by what started them.", "counter");
    x.sample("jobsd_jobs_retried_total", "reason=\"explicit\"",
             explicit_retries_.load(std::memory_order_relaxed));
    x.sample("jobsd_jobs_retried_total", "reason=\"automatic\"",
             automatic_retries_.load(std::memory_order_relaxed));
    x.single("jobsd_jobs_expired_in_outbox_total", "Jobs that expired before they left the outbox.",
             "counter", expired_in_outbox_.load(std::memory_order_relaxed));
    x.single("jobsd_jobs_expired_unconsumed_total",
             "Published jobs that expired in their broker queue while no worker consumed their type.",
             "counter", expired_unconsumed_.load(std::memory_order_relaxed));
    x.single("jobsd_fair_queue_held_total",
             "Jobs held in the fair queue at create (their type's broker queue was full).", "counter",
             held_.load(std::memory_order_relaxed));
    x.single("jobsd_fair_queue_released_total", "Held jobs released to the broker, in fair order.", "counter",
             released_.load(std::memory_order_relaxed));
    if (stuck) {
        x.family("jobsd_jobs_stuck",
                 "STARTED or IN_PROGRESS jobs silent past their type's lifecycle.stuck_after_s (read every "
                 "few seconds).",
                 "gauge");
        for (auto t : model::all_job_types) {
            std::uint64_t n = 0;
            for (const auto& c : *stuck)
                if (c.type == t) n += c.count;
            x.sample("jobsd_jobs_stuck", "job_type=\"" + std::string(model::to_string(t)) + "\"", n);
        }
    }
    if (control_) render_control(x, *control_);
}

void metrics::render_http(std::string& out) const {
    exposition x(out);
    x.family("jobsd_http_responses_total", "HTTP responses sent, by status code.", "counter");
    for (std::size_t code = 100; code < responses_.size(); ++code)
        if (auto n = responses_[code].load(std::memory_order_relaxed))
            x.sample("jobsd_http_responses_total", "code=\"" + std::to_string(code) + "\"", n);
    x.family("jobsd_http_request_duration_seconds",
             "From a request's first header byte to its answer written, by route.", "histogram");
    for (std::size_t r = 0; r < latency_.size(); ++r) {
        const auto counts = latency_buckets(r);
        std::uint64_t total = 0;
        for (auto c : counts) total += c;
        if (total == 0) continue;
        const std::string route = "route=\"" + std::string(slot_names_[r]) + "\"";
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b < latency_bounds.size(); ++b) {
            cumulative += counts[b];
            char le[32];
            std::snprintf(le, sizeof le, "%g", latency_bounds[b]);
            x.sample("jobsd_http_request_duration_seconds_bucket", route + ",le=\"" + le + "\"", cumulative);
        }
        x.sample("jobsd_http_request_duration_seconds_bucket", route + ",le=\"+Inf\"", total);
        char sum[48];
        std::snprintf(sum, sizeof sum, "%.9f",
                      static_cast<double>(latency_[r].sum_ns.load(std::memory_order_relaxed)) / 1e9);
        out += "jobsd_http_request_duration_seconds_sum{" + route + "} " + sum + "\n";
        x.sample("jobsd_http_request_duration_seconds_count", route, total);
    }
    x.single("jobsd_http_connections", "Open client connections.", "gauge",
             connections_.load(std::memory_order_relaxed));
    x.single("jobsd_http_requests_in_flight",
             "Requests read in part or whole and not yet answered (the one reading this among them).",
             "gauge", in_flight_.load(std::memory_order_relaxed));
}

std::string metrics::render(const store::store_stats& store, const store::outbox_stats* outbox,
                            const std::vector<store::job_count>* jobs,
                            const std::vector<store::job_count>* stuck,
                            const store::webhook_stats* hooks) const {
    std::string out;
    out.reserve(4096);
    render_http(out);
    exposition x(out);
    x.family("jobsd_jobs_created_total", "Jobs committed and answered 201, by job type.", "counter");
    for (auto t : model::all_job_types)
        x.sample("jobsd_jobs_created_total", "job_type=\"" + std::string(model::to_string(t)) + "\"",
                 jobs_created_[static_cast<std::size_t>(t)].load(std::memory_order_relaxed));
    x.single("jobsd_store_transactions_total", "Write transactions committed by the store.", "counter",
             store.transactions);
    x.single("jobsd_store_jobs_committed_total",
             "Jobs committed by the store (group commit: many per transaction).", "counter",
             store.jobs_committed);
    x.family("jobsd_store_inline_lookups_total",
             "Lookups of one job run on the asking io thread (ran), or declined there because they "
             "would have waited and run on a store reader thread (declined).",
             "counter");
    x.sample("jobsd_store_inline_lookups_total", "outcome=\"ran\"", store.lookups_inline);
    x.sample("jobsd_store_inline_lookups_total", "outcome=\"declined\"", store.lookups_declined);
    x.single("jobsd_store_write_queue", "Write operations waiting for the store's writer.", "gauge",
             store.write_queue);
    if (outbox) render_outbox(x, *outbox);
    if (jobs) render_job_counts(x, *jobs);
    if (publisher_) render_publisher(x, *publisher_);
    x.single("jobsd_events_applied_total", "Status events that moved a job forward.", "counter",
             store.events_applied);
    if (events_) render_events(x, *events_);
    if (hub_)
        x.single("jobsd_notification_subscribers", "Open notification streams.", "gauge",
                 hub_->subscribers());
    if (status_relay_) render_status_relay(x, *status_relay_);
    if (hooks) render_webhook_backlog(x, *hooks);
    if (webhooks_) render_dispatcher(x, *webhooks_);
    render_lifecycle(out, stuck);
    return out;
}

}  // namespace jobsd::server

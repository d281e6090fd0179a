// An amqp_session user: one channel, several consumers (the events queue and each dead-letter
// queue); deliveries are gathered into a batch, applied through the sink, then acked with
// `multiple`. A batch is applied when full or when its first delivery has waited
// event_batch_wait.
#include "queue/event_consumer.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>

#include <optional>
#include <utility>
#include <vector>

#include "model/clock.hpp"
#include "model/strict_json.hpp"
#include "model/trace_context.hpp"
#include "model/uuid.hpp"
#include "queue/amqp_bytes.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/amqp_session.hpp"
#include "queue/job_message.hpp"
#include "queue/session_thread.hpp"
#include "queue/topology.hpp"

namespace jobsd::queue {

namespace {

using clock = std::chrono::steady_clock;
constexpr auto channel = amqp_connection::channel;
constexpr std::string_view events_tag = "events";
// After the sink refused a batch, the deliveries go back to the broker and come again; they
// are applied again no sooner than this.
constexpr std::chrono::seconds refused_pause{1};

// A dead-lettered job message becomes its event: EXPIRED when its time to live ran out in the
// queue, FAILED with the broker's reason otherwise (delivery limit, rejected); for the attempt
// the message carried (contract 2), so a dead letter of an earlier attempt changes nothing.
// nullopt when the body names no job.
std::optional<model::job_event> dead_letter_event(std::string_view body, const std::string& reason) {
    boost::system::error_code ec;
    auto doc = boost::json::parse(body, ec, {}, model::message_parse_options());
    const auto* obj = ec ? nullptr : doc.if_object();
    const auto* uuid = obj ? obj->if_contains("uuid") : nullptr;
    if (!uuid || !uuid->is_string() || !model::is_uuid(uuid->get_string())) return std::nullopt;
    model::job_event e;
    e.uuid = std::string(uuid->get_string());
    if (const auto* a = obj->if_contains("attempt"); a && a->is_int64() && a->get_int64() >= 1)
        e.attempt = static_cast<int>(a->get_int64());
    e.at_ms = model::now_ms();
    if (reason == "expired") {
        e.status = model::job_status::expired;
        return e;
    }
    e.status = model::job_status::failed;
    std::string why = reason.empty() ? "unknown reason" : reason;
    if (reason == "delivery_limit") why = "delivery limit reached (no worker finished it)";
    e.error = std::string(model::dead_letter_error_prefix) + why;
    return e;
}

}  // namespace

struct event_consumer::impl final : amqp_session_user {
    impl(amqp_options o, event_sink& s)
        : options(std::move(o)),
          sink(s),
          session(amqp_session_options::from("events", options), *this, wake) {}

    void on_connected(amqp_connection& conn) override {
        auto* state = conn.state();
        declare_topology(conn, options);
        const auto prefetch =
            static_cast<std::uint16_t>(std::min<std::size_t>(options.event_batch * 2, 65535));
        amqp_basic_qos(state, channel, 0, prefetch, 0);
        conn.check_last("basic.qos");
        amqp_basic_consume(state, channel, bytes(options.events_queue), amqp_cstring_bytes(events_tag.data()),
                           0, 0, 0, amqp_empty_table);
        conn.check_last("consuming " + options.events_queue);
        for (const auto& type : options.job_types) {
            const std::string queue = options.dead_queue_prefix + type;
            amqp_basic_consume(state, channel, bytes(queue), bytes("dead:" + type), 0, 0, 0,
                               amqp_empty_table);
            conn.check_last("consuming " + queue);
        }
        stats.connected = true;
        spdlog::info("events: consuming {} and the dead-letter queues on {}", options.events_queue,
                     conn.where());
    }

    // Unacked deliveries go back to the queue with the connection.
    void on_disconnected(std::string_view) override {
        stats.connected = false;
        batch.clear();
        last_tag = 0;
        paused_until = {};
    }

    bool stopping() const override { return stopping_.load(); }

    amqp_step step(amqp_connection& conn, clock::time_point now) override {
        if (stopping_) return {true};
        if (last_tag == 0) return {};
        const auto due = std::max(batch_started + options.event_batch_wait, paused_until);
        if (now >= due) {
            flush(conn, now);
            return {};
        }
        return {false, false, due};
    }

    void on_delivery(amqp_connection& conn, const amqp_delivery& d) override {
        const auto now = clock::now();
        if (last_tag == 0) batch_started = now;
        last_tag = d.tag;
        const std::string_view body = d.body();
        auto trace = model::parse_traceparent(d.header(traceparent_header));
        std::string trace_id = trace ? std::move(trace->trace_id) : std::string();
        if (d.consumer_tag == events_tag)
            take_event(body, trace_id);
        else
            take_dead_lettered(body, d.header("x-first-death-reason"), std::move(trace_id));
        if (batch.size() >= options.event_batch && now >= paused_until) flush(conn, now);
    }

    // One event, or a batch of them (contract 3); an event of a batch with a traceparent of its
    // own keeps its trace, the others take the message's.
    void take_event(std::string_view body, const std::string& trace_id) {
        for (auto& parsed : model::parse_job_events(body, model::now_ms())) {
            stats.received.fetch_add(1, std::memory_order_relaxed);
            if (auto* e = std::get_if<model::job_event>(&parsed)) {
                if (e->trace_id.empty()) e->trace_id = trace_id;
                batch.push_back(std::move(*e));
                continue;
            }
            stats.malformed.fetch_add(1, std::memory_order_relaxed);
            // The text only at debug level: an event may carry a job's output, and logs at the
            // default level carry no job content.
            spdlog::warn("events: dropping a malformed event ({}, {} bytes) trace_id={}",
                         std::get<model::event_error>(parsed).problem, body.size(), trace_id);
            spdlog::debug("events: the malformed event: {:.200}", body);
        }
    }

    void take_dead_lettered(std::string_view body, const std::string& reason, std::string trace_id) {
        if (auto dead = dead_letter_event(body, reason)) {
            stats.dead_lettered.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("job {} was dead-lettered ({}); marking it {} trace_id={}", dead->uuid,
                         reason.empty() ? "no reason given" : reason, model::to_string(dead->status),
                         trace_id);
            dead->trace_id = std::move(trace_id);
            batch.push_back(std::move(*dead));
            return;
        }
        stats.malformed.fetch_add(1, std::memory_order_relaxed);
        // A dead-lettered job message holds the client's whole request: its text only at debug level.
        spdlog::warn("events: dropping a dead-lettered message that names no job ({} bytes) trace_id={}",
                     body.size(), trace_id);
        spdlog::debug("events: the dead-lettered message: {:.200}", body);
    }

    // Applies the batch, then acks every delivery up to the last one (malformed ones included).
    void flush(amqp_connection& conn, clock::time_point now) {
        if (!batch.empty() && !apply(conn)) {
            // The store refused: hand everything back to the broker and pause a little.
            amqp_basic_nack(conn.state(), channel, last_tag, 1, 1);
            last_tag = 0;
            paused_until = now + refused_pause;
            return;
        }
        if (amqp_basic_ack(conn.state(), channel, last_tag, 1) != AMQP_STATUS_OK)
            throw amqp_error("events: ack failed on " + conn.where());
        stats.batches.fetch_add(1, std::memory_order_relaxed);
        last_tag = 0;
    }

    // The store may take its time (a slow commit, an outage): no send is pending meanwhile.
    bool apply(amqp_connection& conn) {
        auto quiet = conn.quiet();
        return sink.apply(std::exchange(batch, {}));
    }

    const amqp_options options;
    event_sink& sink;
    event_consumer_stats stats;
    std::atomic<bool> stopping_{false};
    wakeup wake;

    // Consumer thread only.
    std::vector<model::job_event> batch;
    std::uint64_t last_tag = 0;  // every delivery up to it is handled once the batch is applied
    clock::time_point batch_started{};
    clock::time_point paused_until{};

    amqp_session session;
    session_thread thread;
};

event_consumer::event_consumer(amqp_options options, event_sink& sink)
    : impl_(std::make_unique<impl>(std::move(options), sink)) {}

event_consumer::~event_consumer() {
    stop();
}

void event_consumer::start() {
    impl_->thread.start("jobsd-events", impl_->session);
}

void event_consumer::stop() {
    impl_->thread.stop([this] {
        impl_->stopping_ = true;
        impl_->wake.notify();
    });
}

const event_consumer_stats& event_consumer::stats() const noexcept {
    return impl_->stats;
}

}  // namespace jobsd::queue

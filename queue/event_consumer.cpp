// One connection, one channel, several consumers (events queue and each dead-letter queue);
// deliveries are gathered into a batch, applied through the sink, then acked with `multiple`.
#include "queue/event_consumer.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/topology.hpp"

namespace jobsd::queue {

namespace {

using clock = std::chrono::steady_clock;

amqp_bytes_t bytes(const std::string& s) {
    return {s.size(), const_cast<char*>(s.data())};
}
std::string text(const amqp_bytes_t& b) {
    return {static_cast<const char*>(b.bytes), b.len};
}

std::string header_string(const amqp_basic_properties_t& props, std::string_view key) {
    if (!(props._flags & AMQP_BASIC_HEADERS_FLAG)) return {};
    for (int i = 0; i < props.headers.num_entries; ++i) {
        const auto& e = props.headers.entries[i];
        if (text(e.key) == key &&
            (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES))
            return text(e.value.value.bytes);
    }
    return {};
}

// A dead-lettered job message becomes its FAILED event; nullopt when the body names no job.
std::optional<model::job_event> failed_event(const std::string& body, const std::string& reason) {
    boost::system::error_code ec;
    auto doc = boost::json::parse(body, ec);
    const auto* obj = ec ? nullptr : doc.if_object();
    const auto* uuid = obj ? obj->if_contains("uuid") : nullptr;
    if (!uuid || !uuid->is_string() || !model::is_uuid(uuid->get_string())) return std::nullopt;
    model::job_event e;
    e.uuid = std::string(uuid->get_string());
    e.status = model::job_status::failed;
    std::string why = reason.empty() ? "unknown reason" : reason;
    if (reason == "delivery_limit") why = "delivery limit reached (no worker finished it)";
    e.error = std::string(model::dead_letter_error_prefix) + why;
    e.at_ms = model::now_ms();
    return e;
}

}  // namespace

event_consumer::event_consumer(amqp_options options, event_sink& sink)
    : options_(std::move(options)), sink_(sink) {}

event_consumer::~event_consumer() {
    stop();
}

void event_consumer::start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void event_consumer::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

void event_consumer::run() {
    auto backoff = options_.reconnect_min;
    std::size_t url = 0;
    while (!stopping_) {
        try {
            amqp_connection conn(options_.urls[url], options_.connect_timeout, options_.heartbeat_s);
            auto* state = conn.state();
            constexpr auto ch = amqp_connection::channel;
            declare_topology(conn, options_);
            amqp_basic_qos(state, ch, 0,
                           static_cast<std::uint16_t>(std::min<std::size_t>(options_.event_batch * 2, 65535)),
                           0);
            conn.check_last("basic.qos");
            const std::string events_tag = "events";
            amqp_basic_consume(state, ch, bytes(options_.events_queue), bytes(events_tag), 0, 0, 0,
                               amqp_empty_table);
            conn.check_last("consuming " + options_.events_queue);
            for (const auto& type : options_.job_types) {
                const std::string queue = options_.dead_queue_prefix + type;
                amqp_basic_consume(state, ch, bytes(queue), bytes("dead:" + type), 0, 0, 0, amqp_empty_table);
                conn.check_last("consuming " + queue);
            }
            stats_.connected = true;
            backoff = options_.reconnect_min;
            spdlog::info("events: consuming {} and the dead-letter queues on {}", options_.events_queue,
                         conn.where());

            std::vector<model::job_event> batch;
            std::uint64_t last_tag = 0;  // every delivery up to it is handled once the batch is applied
            clock::time_point batch_started{};
            auto flush = [&] {
                if (last_tag == 0) return;
                if (!batch.empty() && !sink_.apply(std::move(batch))) {
                    batch.clear();
                    // The store refused: hand everything back to the broker and pause a little.
                    amqp_basic_nack(state, ch, last_tag, 1, 1);
                    last_tag = 0;
                    std::this_thread::sleep_for(std::chrono::seconds(1));
                    return;
                }
                batch.clear();
                if (amqp_basic_ack(state, ch, last_tag, 1) != AMQP_STATUS_OK)
                    throw amqp_error("events: ack failed on " + conn.where());
                stats_.batches.fetch_add(1, std::memory_order_relaxed);
                last_tag = 0;
            };
            while (!stopping_) {
                const auto wait =
                    last_tag == 0 ? std::chrono::milliseconds(200)
                                  : std::max(std::chrono::milliseconds(0),
                                             std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 batch_started + options_.event_batch_wait - clock::now()));
                timeval tv{0, static_cast<suseconds_t>(wait.count() * 1000)};
                amqp_frame_t frame;
                const int rc = amqp_simple_wait_frame_noblock(state, &frame, &tv);
                if (rc == AMQP_STATUS_TIMEOUT) {
                    flush();
                    amqp_maybe_release_buffers(state);
                    continue;
                }
                if (rc != AMQP_STATUS_OK)
                    throw amqp_error("events: connection to " + conn.where() +
                                     " lost: " + amqp_error_string2(rc));
                if (frame.frame_type != AMQP_FRAME_METHOD) continue;
                if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                    frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)
                    throw amqp_error("events: broker " + conn.where() + " closed the channel");
                if (frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD) continue;

                const auto* deliver = static_cast<amqp_basic_deliver_t*>(frame.payload.method.decoded);
                const std::uint64_t tag = deliver->delivery_tag;
                const std::string consumer = text(deliver->consumer_tag);
                amqp_message_t message;
                conn.check(amqp_read_message(state, frame.channel, &message, 0), "reading a delivery");
                const std::string body = text(message.body);
                const std::string reason = header_string(message.properties, "x-first-death-reason");
                amqp_destroy_message(&message);

                if (last_tag == 0) batch_started = clock::now();
                last_tag = tag;
                if (consumer == events_tag) {
                    stats_.received.fetch_add(1, std::memory_order_relaxed);
                    auto parsed = model::parse_job_event(body, model::now_ms());
                    if (auto* e = std::get_if<model::job_event>(&parsed))
                        batch.push_back(std::move(*e));
                    else {
                        stats_.malformed.fetch_add(1, std::memory_order_relaxed);
                        // The text only at debug level: an event may carry a job's output,
                        // and logs at the default level carry no job content.
                        spdlog::warn("events: dropping a malformed event ({}, {} bytes)",
                                     std::get<model::event_error>(parsed).problem, body.size());
                        spdlog::debug("events: the malformed event: {:.200}", body);
                    }
                } else if (auto failed = failed_event(body, reason)) {
                    stats_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
                    spdlog::warn("job {} was dead-lettered ({}); marking it FAILED", failed->uuid,
                                 reason.empty() ? "no reason given" : reason);
                    batch.push_back(std::move(*failed));
                } else {
                    stats_.malformed.fetch_add(1, std::memory_order_relaxed);
                    // A dead-lettered job message holds the client's whole request: its text
                    // only at debug level.
                    spdlog::warn("events: dropping a dead-lettered message that names no job ({} bytes)",
                                 body.size());
                    spdlog::debug("events: the dead-lettered message: {:.200}", body);
                }
                if (batch.size() >= options_.event_batch) flush();
            }
            stats_.connected = false;
            return;  // stopping: unacked deliveries go back to the queue when the connection closes
        } catch (const std::exception& e) {
            stats_.connected = false;
            spdlog::warn("{}; retrying in {} ms", e.what(), backoff.count());
            url = (url + 1) % options_.urls.size();
            for (auto slept = std::chrono::milliseconds(0); slept < backoff && !stopping_;
                 slept += std::chrono::milliseconds(50))
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            backoff = std::min(backoff * 2, options_.reconnect_max);
        }
    }
}

}  // namespace jobsd::queue

// An amqp_session user on one channel: declares the fanout exchange and this instance's own
// queue, consumes it without acks, and in each step sends the announcement when due and the
// events gathered since the last step as one message.
#include "queue/status_relay.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "model/uuid.hpp"
#include "queue/amqp_bytes.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/amqp_session.hpp"
#include "queue/session_thread.hpp"
#include "queue/status_message.hpp"

namespace jobsd::queue {

namespace {

using clock = std::chrono::steady_clock;
constexpr auto channel = amqp_connection::channel;
constexpr std::string_view consumer_tag = "status";
constexpr std::string_view events_type = "status";
constexpr std::string_view listening_type = "listening";
// An instance with a stream open says so this often; the others forward for `listen_ttl` after
// each word, so one lost announcement costs nothing.
constexpr auto announce_interval = std::chrono::seconds(1);
constexpr auto listen_ttl = std::chrono::seconds(3);
// Events waiting to be sent at most; past it (the broker away, blocked or slow) they are dropped.
constexpr std::size_t max_pending = 10'000;
// This instance's queue keeps at most this many messages (the oldest go first).
constexpr std::int64_t queue_max_length = 1'000;

std::string_view property(const amqp_delivery& d, amqp_flags_t flag, const amqp_bytes_t& value) {
    return (d.message->properties._flags & flag) ? view(value) : std::string_view();
}

}  // namespace

struct status_relay::impl final : amqp_session_user {
    impl(amqp_options o, hooks h)
        : options(std::move(o)),
          hooks_(std::move(h)),
          self(model::new_uuid()),
          session(amqp_session_options::from("status", options), *this, wake) {}

    void on_connected(amqp_connection& conn) override {
        auto* state = conn.state();
        conn.declare_exchange(options.status_exchange, "fanout");
        amqp_arguments args;
        args.add("x-queue-type", std::string("classic")).add("x-max-length", queue_max_length);
        // Server-named, exclusive, deleted with the connection: it only ever holds what arrived
        // while this instance listened.
        auto* ok = amqp_queue_declare(state, channel, amqp_empty_bytes, 0, 0, 1, 1, args.table());
        conn.check_last("declaring the status queue");
        const std::string queue = text(ok->queue);
        conn.bind_queue(queue, options.status_exchange, "");
        amqp_basic_consume(state, channel, bytes(queue), bytes(consumer_tag), 0, 1, 1, amqp_empty_table);
        conn.check_last("consuming " + queue);
        stats.connected = true;
        blocked = false;
        next_announce = {};
        spdlog::info("status: relaying live events through {} on {}", options.status_exchange, conn.where());
    }

    void on_disconnected(std::string_view) override {
        stats.connected = false;
        std::lock_guard lock(mu);
        stats.dropped.fetch_add(pending_count, std::memory_order_relaxed);
        pending.clear();
        pending_count = 0;
    }

    bool stopping() const override { return stopping_.load(); }

    void on_flow(amqp_connection& conn, bool now_blocked, std::string_view reason) override {
        blocked = now_blocked;
        amqp_session_user::on_flow(conn, now_blocked, reason);
    }

    amqp_step step(amqp_connection& conn, clock::time_point now) override {
        if (stopping_) return {true};
        if (remote_until.load(std::memory_order_relaxed) < now.time_since_epoch().count())
            remote.store(false, std::memory_order_relaxed);
        const bool listening = hooks_.local_listeners() > 0;
        if (blocked) return {};
        if (listening && (announce_now.exchange(false) || now >= next_announce)) {
            send(conn, listening_type, "[]");
            next_announce = now + announce_interval;
        }
        std::string records;
        std::size_t count = 0;
        {
            std::lock_guard lock(mu);
            records.swap(pending);
            count = std::exchange(pending_count, 0);
        }
        if (count > 0) {
            send(conn, events_type, status_body(records));
            stats.forwarded.fetch_add(count, std::memory_order_relaxed);
        }
        amqp_step s;
        if (listening) s.wake_at = next_announce;
        return s;
    }

    void send(amqp_connection& conn, std::string_view type, const std::string& body) {
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TYPE_FLAG |
                       AMQP_BASIC_APP_ID_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = 1;  // transient: a live stream, not a record
        props.type = bytes(type);
        props.app_id = bytes(self);
        const int rc = amqp_basic_publish(conn.state(), channel, bytes(options.status_exchange), bytes(""), 0,
                                          0, &props, bytes(body));
        if (rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() +
                             ": publishing live events failed: " + amqp_error_string2(rc));
    }

    void on_delivery(amqp_connection&, const amqp_delivery& d) override {
        if (property(d, AMQP_BASIC_APP_ID_FLAG, d.message->properties.app_id) == self) return;
        const auto type = property(d, AMQP_BASIC_TYPE_FLAG, d.message->properties.type);
        if (type == listening_type) {
            remote_until.store((clock::now() + listen_ttl).time_since_epoch().count(),
                               std::memory_order_relaxed);
            remote.store(true, std::memory_order_relaxed);
            return;
        }
        if (type != events_type) return;
        for (const auto& r : parse_status_body(d.body())) {
            stats.received.fetch_add(1, std::memory_order_relaxed);
            hooks_.deliver(r.account_id, r.session_id, r.event);
        }
    }

    void forward(std::string_view account_id, std::string_view session_id, std::string_view event) {
        if (!stats.connected.load(std::memory_order_relaxed)) {
            stats.dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        bool first = false;
        {
            std::lock_guard lock(mu);
            if (pending_count >= max_pending) {
                stats.dropped.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            first = pending_count++ == 0;
            append_status_record(pending, account_id, session_id, event);
        }
        if (first) wake.notify();
    }

    const amqp_options options;
    const hooks hooks_;
    const std::string self;  // this process's mark on what it sends (app_id), to skip its own
    status_relay_stats stats;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> announce_now{false};
    std::atomic<bool> remote{false};          // another instance listens
    std::atomic<clock::rep> remote_until{0};  // until when, as the steady clock's count
    wakeup wake;

    std::mutex mu;
    std::string pending;  // encoded records, guarded by mu
    std::size_t pending_count = 0;

    // Relay thread only.
    bool blocked = false;
    clock::time_point next_announce{};

    amqp_session session;
    session_thread thread;
};

status_relay::status_relay(amqp_options options, hooks h)
    : impl_(std::make_unique<impl>(std::move(options), std::move(h))) {}

status_relay::~status_relay() {
    stop();
}

void status_relay::start() {
    impl_->thread.start("jobsd-status", impl_->session);
}

void status_relay::stop() {
    impl_->thread.stop([this] {
        impl_->stopping_ = true;
        impl_->wake.notify();
    });
}

bool status_relay::listened_elsewhere() const noexcept {
    return impl_->remote.load(std::memory_order_relaxed);
}

void status_relay::forward(std::string_view account_id, std::string_view session_id, std::string_view event) {
    impl_->forward(account_id, session_id, event);
}

void status_relay::listening_here() noexcept {
    impl_->announce_now = true;
    impl_->wake.notify();
}

const status_relay_stats& status_relay::stats() const noexcept {
    return impl_->stats;
}

}  // namespace jobsd::queue

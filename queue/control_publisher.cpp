// The control publisher's thread is an amqp_session user. Each step: take the outbox's answers
// from the mailbox, read the outbox when due, publish what waits (mandatory, persistent, within
// a confirm window). Acks remove messages from the outbox; nacks and returns leave them for the
// next read.
#include "queue/control_publisher.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <unordered_map>

#include "queue/amqp_bytes.hpp"
#include "queue/amqp_session.hpp"
#include "queue/confirm_tracker.hpp"
#include "queue/control_ledger.hpp"
#include "queue/job_message.hpp"
#include "queue/session_thread.hpp"
#include "queue/topology.hpp"
#include "queue/wakeup.hpp"

namespace jobsd::queue {

namespace {

using clock = std::chrono::steady_clock;

// Unconfirmed control messages at once: cancels come one by one, a few hundred at most after a
// restart.
constexpr std::size_t confirm_window = 256;

// The outbox's answers, from store threads to the publisher's thread.
struct mailbox {
    struct read_answer {
        std::error_code error;
        std::vector<control_outbox::entry> entries;
    };
    struct remove_answer {
        std::vector<std::int64_t> seqs;
    };

    void post(read_answer a) {
        {
            std::lock_guard lock(mu);
            reads.push_back(std::move(a));
        }
        wake.notify();
    }
    void post(remove_answer a) {
        {
            std::lock_guard lock(mu);
            removes.push_back(std::move(a));
        }
        wake.notify();
    }
    void poke() {
        {
            std::lock_guard lock(mu);
            poked = true;
        }
        wake.notify();
    }

    wakeup wake;
    std::mutex mu;
    std::vector<read_answer> reads;      // guarded by mu
    std::vector<remove_answer> removes;  // guarded by mu
    bool poked = false;                  // guarded by mu
};

}  // namespace

struct control_publisher::impl final : amqp_session_user {
    impl(amqp_options o, control_outbox& b)
        : options(std::move(o)),
          box(b),
          mail(std::make_shared<mailbox>()),
          ledger(options.control_poll_interval),
          session(amqp_session_options::from("control", options), *this, mail->wake) {}

    void on_connected(amqp_connection& conn) override {
        declare_topology(conn, options);
        conn.confirm_select();
        ledger.connected(clock::now());
        stats.connected = true;
        spdlog::info("control: broker {} connected", conn.where());
    }

    void on_disconnected(std::string_view) override {
        stats.connected = false;
        blocked = false;
        std::vector<std::int64_t> unconfirmed;
        for (const auto& m : tracker.reset()) unconfirmed.push_back(std::stoll(m.uuid));
        seq_by_id.clear();
        ledger.disconnected(unconfirmed);
    }

    bool stopping() const override { return stopping_.load(); }

    amqp_step step(amqp_connection& conn, clock::time_point now) override {
        if (stopping_) return {true};
        read_mailbox(now);
        if (ledger.start_read(now)) read_outbox();
        // While the broker is blocked (a resource alarm) it reads nothing: sends wait for unblocked.
        while (!blocked && ledger.has_next() && tracker.outstanding() < confirm_window) publish(conn);
        return {false, false, ledger.next_deadline()};
    }

    void on_flow(amqp_connection& conn, bool now_blocked, std::string_view reason) override {
        amqp_session_user::on_flow(conn, now_blocked, reason);  // logs it
        blocked = now_blocked;
    }

    void on_confirm(amqp_connection&, const amqp_confirm& c) override {
        auto s = c.ack ? tracker.on_ack(c.tag, c.multiple) : tracker.on_nack(c.tag, c.multiple);
        if (!s.failed.empty()) {
            spdlog::warn("control: broker refused {} message(s); sending them again", s.failed.size());
            stats.failed.fetch_add(s.failed.size(), std::memory_order_relaxed);
            std::vector<std::int64_t> failed;
            for (const auto& m : s.failed) failed.push_back(std::stoll(m.uuid));
            ledger.failed(failed);
        }
        if (tracker.outstanding() == 0) seq_by_id.clear();
        if (s.confirmed.empty()) return;
        stats.confirmed.fetch_add(s.confirmed.size(), std::memory_order_relaxed);
        std::vector<std::int64_t> seqs;
        for (const auto& m : s.confirmed) seqs.push_back(std::stoll(m.uuid));
        box.remove(seqs, [mb = mail, seqs](std::error_code ec) mutable {
            if (ec)
                spdlog::warn("control: removing sent messages failed ({}); they are sent again",
                             ec.message());
            mb->post(mailbox::remove_answer{std::move(seqs)});
        });
    }

    void on_return(amqp_connection&, const amqp_returned& r) override {
        // Only when a stream is missing (deleted by hand): the ack that follows settles it as failed.
        if (auto it = seq_by_id.find(r.message_id); it != seq_by_id.end())
            tracker.on_return(std::to_string(it->second));
        spdlog::warn("control: broker returned {} (routing key {}): {}", r.message_id, r.routing_key,
                     r.reply_text);
    }

    void read_mailbox(clock::time_point now) {
        std::vector<mailbox::read_answer> reads;
        std::vector<mailbox::remove_answer> removes;
        {
            std::lock_guard lock(mail->mu);
            reads.swap(mail->reads);
            removes.swap(mail->removes);
            if (std::exchange(mail->poked, false)) ledger.poke();
        }
        for (auto& r : removes) ledger.removed(r.seqs);
        for (auto& r : reads) {
            if (r.error) spdlog::warn("control: reading the control outbox failed: {}", r.error.message());
            ledger.read_done(!r.error, std::move(r.entries), now);
        }
    }

    void read_outbox() {
        box.list(options.control_batch,
                 [mb = mail](std::error_code ec, std::vector<control_outbox::entry> entries) {
                     mb->post(mailbox::read_answer{ec, std::move(entries)});
                 });
    }

    void publish(amqp_connection& conn) {
        const auto& e = ledger.next();
        const auto& m = e.message;
        const std::string id = control_message_id(m), key = control_routing_key(m), body = control_body(m);
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                       AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        props.message_id = bytes(id);
        props.type = bytes(m.kind);
        props.timestamp = static_cast<std::uint64_t>(m.at_ms / 1000);
        const int rc =
            amqp_basic_publish(conn.state(), amqp_connection::channel, bytes(options.control_exchange),
                               bytes(key), 1, 0, &props, bytes(body));
        if (rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() +
                             ": publishing a control message failed: " + amqp_error_string2(rc));
        stats.published.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("control: {} of job {} (attempt {}) sent", m.kind, m.uuid, m.attempt);
        // The tracker knows a message by its "uuid": here the outbox seq (returns name the message id).
        job_message tracked;
        tracked.uuid = std::to_string(e.seq);
        tracked.job_type = key;
        tracked.created_ms = m.at_ms;
        tracker.on_publish(std::move(tracked));
        seq_by_id[id] = e.seq;
        ledger.pop_next();
    }

    const amqp_options options;
    control_outbox& box;
    control_publisher_stats stats;
    std::atomic<bool> stopping_{false};
    // Shared with the outbox's completions, which may come after the publisher is gone.
    const std::shared_ptr<mailbox> mail;

    // Publisher thread only.
    control_ledger ledger;
    confirm_tracker tracker;
    std::unordered_map<std::string, std::int64_t> seq_by_id;  // unconfirmed messages' ids
    bool blocked = false;                                     // between connection.blocked and unblocked

    amqp_session session;
    session_thread thread;
};

control_publisher::control_publisher(amqp_options options, control_outbox& box) {
    if (options.urls.empty()) throw std::invalid_argument("amqp.urls: at least one broker URL is needed");
    impl_ = std::make_unique<impl>(std::move(options), box);
}

control_publisher::~control_publisher() {
    stop();
}

void control_publisher::start() {
    impl_->thread.start("jobsd-control", impl_->session);
}

void control_publisher::stop() {
    impl_->thread.stop([this] {
        impl_->stopping_ = true;
        impl_->mail->wake.notify();
    });
}

void control_publisher::poke() {
    impl_->mail->poke();
}

const control_publisher_stats& control_publisher::stats() const noexcept {
    return impl_->stats;
}

}  // namespace jobsd::queue

// The publisher thread is an amqp_session user. Each step: read the mailbox (handed-over jobs,
// the outbox's answers), release retries, claim the next relay page, publish within the confirm
// window. Frames: acks and nacks settle through the confirm tracker, returns mark a message
// failed. Every piece of state but the mailbox and the counters is this thread's alone.
#include "queue/publisher.hpp"

#include <spdlog/spdlog.h>

#include <optional>

#include "queue/amqp_session.hpp"
#include "queue/confirm_tracker.hpp"
#include "queue/job_message.hpp"
#include "queue/publisher_mailbox.hpp"
#include "queue/relay_ledger.hpp"
#include "queue/topology.hpp"

namespace jobsd::queue {

namespace {

using clock = std::chrono::steady_clock;

amqp_bytes_t bytes(const std::string& s) {
    return {s.size(), const_cast<char*>(s.data())};
}

}  // namespace

struct publisher::impl final : amqp_session_user {
    impl(amqp_options o, outbox& b)
        : options(std::move(o)),
          box(b),
          mailbox(std::make_shared<publisher_mailbox>(options.publish_queue_max)),
          ledger(relay_ledger::options::from(options)),
          session(amqp_session_options::from("publisher", options), *this, mailbox->waker()) {}

    // ---- any thread

    void submit(model::job job) {
        if (!mailbox->offer(std::move(job), clock::now()))
            stats.deferred.fetch_add(1, std::memory_order_relaxed);
    }

    // ---- the session's callbacks, on the publisher thread

    void on_connected(amqp_connection& conn) override {
        declare_topology(conn, options);
        conn.confirm_select();
        if (connections++ > 0) stats.reconnects.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("broker {} connected; topology declared", conn.where());
        ledger.connected(clock::now());  // after every (re)connect: relay every unpublished job
        stats.connected = true;
        mailbox->set_open(true);
    }

    // The connection is gone: whatever was not confirmed is still unpublished in the outbox
    // and is relayed after the next connect; forget it here.
    void on_disconnected(std::string_view) override {
        stats.connected = false;
        mailbox->set_open(false);
        ledger.disconnected(tracker.reset());
    }

    bool stopping() const override { return stopping_.load(); }

    amqp_step step(amqp_connection& conn, clock::time_point now) override {
        read_mailbox(now);
        if (stopping_) {
            // Collect the confirms still owed for a second at most; unconfirmed jobs stay unpublished.
            if (!drain_until) drain_until = now + std::chrono::seconds(1);
            return {tracker.outstanding() == 0 || now >= *drain_until, false, *drain_until};
        }
        stats.republished.fetch_add(ledger.release_retries(now), std::memory_order_relaxed);
        if (auto page = ledger.next_claim(now)) claim(*page);
        while (ledger.has_next() && tracker.outstanding() < options.confirm_window) publish(conn);
        return {false, false, ledger.next_deadline()};
    }

    void on_confirm(amqp_connection&, const amqp_confirm& c) override {
        if (c.ack) return settle(tracker.on_ack(c.tag, c.multiple));
        auto s = tracker.on_nack(c.tag, c.multiple);
        stats.nacked.fetch_add(s.failed.size(), std::memory_order_relaxed);
        if (!s.failed.empty()) spdlog::warn("broker nacked {} job(s); retrying", s.failed.size());
        settle(std::move(s));
    }

    void on_return(amqp_connection&, const amqp_returned& r) override {
        tracker.on_return(r.message_id);
        stats.returned.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("broker returned job {} (routing key {}): {}; retrying", r.message_id, r.routing_key,
                     r.reply_text);
    }

    // ---- the work

    void read_mailbox(clock::time_point now) {
        auto mail = mailbox->take(stopping_ ? 0 : ledger.hand_over_room());
        for (const auto& m : mail.marks) {
            if (m.error)
                spdlog::warn("outbox: marking {} job(s) published failed ({}); the relay sends them again",
                             m.uuids.size(), m.error.message());
            ledger.marked(m.uuids, !m.error, now);
        }
        for (auto& c : mail.claims) {
            if (!c.error) {
                stats.republished.fetch_add(ledger.page_claimed(c.sweep, std::move(c.entries), now),
                                            std::memory_order_relaxed);
                continue;
            }
            // A store failure, not a broker one: the connection stays, the page is claimed again.
            spdlog::warn("outbox: claiming unpublished jobs failed ({}); trying again in {} ms",
                         c.error.message(), options.retry_delay.count());
            ledger.claim_failed(c.sweep, now);
        }
        if (mail.sweep) ledger.request_sweep();
        for (const auto& j : mail.jobs) ledger.hand_over(j.job, j.at, now);
    }

    void claim(const relay_ledger::claim_request& page) {
        box.claim(page.after_seq, page.limit,
                  [mb = mailbox, sweep = page.sweep](std::error_code ec, std::vector<outbox::entry> entries) {
                      mb->post(publisher_mailbox::claim_answer{sweep, ec, std::move(entries)});
                  });
    }

    void publish(amqp_connection& conn) {
        const job_message& msg = ledger.next();
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                       AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        props.message_id = bytes(msg.uuid);
        props.type = bytes(msg.job_type);
        props.timestamp = static_cast<std::uint64_t>(msg.created_ms / 1000);
        // mandatory: an unroutable message comes back as basic.return instead of vanishing.
        const int rc = amqp_basic_publish(conn.state(), amqp_connection::channel, bytes(options.exchange),
                                          bytes(msg.job_type), 1, 0, &props, bytes(msg.body));
        if (rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() + ": publish failed: " + amqp_error_string2(rc));
        stats.published.fetch_add(1, std::memory_order_relaxed);
        tracker.on_publish(ledger.pop_next());
    }

    void settle(confirm_tracker::settled s) {
        if (!s.confirmed.empty()) {
            stats.confirmed.fetch_add(s.confirmed.size(), std::memory_order_relaxed);
            std::vector<std::string> uuids;
            uuids.reserve(s.confirmed.size());
            for (auto& m : s.confirmed) uuids.push_back(std::move(m.uuid));
            // The uuids stay known to the ledger until the answer, so a sweep meanwhile skips them.
            box.mark_published(uuids, [mb = mailbox, uuids](std::error_code ec) mutable {
                mb->post(publisher_mailbox::mark_answer{std::move(uuids), ec});
            });
        }
        ledger.failed(std::move(s.failed), clock::now());
    }

    const amqp_options options;
    outbox& box;
    publisher_stats stats;
    std::atomic<bool> stopping_{false};
    // Shared with the outbox's completions, which may come after the publisher is gone.
    const std::shared_ptr<publisher_mailbox> mailbox;

    // Publisher thread only.
    relay_ledger ledger;
    confirm_tracker tracker;
    std::uint64_t connections = 0;
    std::optional<clock::time_point> drain_until;

    amqp_session session;
    std::thread thread;
};

publisher::publisher(amqp_options options, outbox& box) {
    if (options.urls.empty()) throw std::invalid_argument("amqp.urls: at least one broker URL is needed");
    impl_ = std::make_unique<impl>(std::move(options), box);
}

publisher::~publisher() {
    stop();
}

void publisher::start() {
    if (!impl_->thread.joinable()) impl_->thread = std::thread([this] { impl_->session.run(); });
}

void publisher::stop() {
    if (!impl_->thread.joinable()) return;
    impl_->stopping_ = true;
    impl_->mailbox->waker().notify();
    impl_->thread.join();
}

void publisher::submit(model::job job) {
    impl_->submit(std::move(job));
}

const publisher_stats& publisher::stats() const noexcept {
    return impl_->stats;
}

}  // namespace jobsd::queue

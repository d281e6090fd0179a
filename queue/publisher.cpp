// The publisher thread is an amqp_session user. Each step: read the mailbox (handed-over jobs,
// the outbox's answers), end due type pauses, claim the next relay page, renew the claims it
// holds, publish within the confirm window unless the broker blocked the connection. Frames:
// acks and nacks settle through the confirm tracker, returns mark a message failed, a failed
// message pauses its type. Every piece of state but the mailbox and the counters is this
// thread's alone.
#include "queue/publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "model/clock.hpp"
#include "model/trace_context.hpp"
#include "queue/amqp_bytes.hpp"
#include "queue/amqp_session.hpp"
#include "queue/confirm_tracker.hpp"
#include "queue/job_message.hpp"
#include "queue/publish_frames.hpp"
#include "queue/publisher_mailbox.hpp"
#include "queue/relay_ledger.hpp"
#include "queue/session_thread.hpp"
#include "queue/topology.hpp"

namespace jobsd::queue {

namespace {

using clock = std::chrono::steady_clock;

// Bytes of messages one turn of the session sends before it reads the broker's frames again.
constexpr std::size_t turn_bytes = 256 * 1024;

// The index of a job type's name in model::all_job_types, for per-type counters.
std::optional<std::size_t> type_index(std::string_view type) {
    const auto t = model::parse_job_type(type);
    if (!t) return std::nullopt;
    return static_cast<std::size_t>(*t);
}

}  // namespace

struct publisher::impl final : amqp_session_user {
    impl(amqp_options o, outbox& b)
        : options(std::move(o)),
          box(b),
          mailbox(std::make_shared<publisher_mailbox>(options.publish_queue_max)),
          ledger(relay_ledger::options::from(options, b.claim_lease())),
          session(amqp_session_options::from("publisher", options), *this, mailbox->waker()) {}

    // ---- any thread

    void submit(model::job job, std::optional<std::int64_t> claimed_ms) {
        if (!mailbox->offer(std::move(job), clock::now(), claimed_ms))
            stats.deferred.fetch_add(1, std::memory_order_relaxed);
    }

    // ---- the session's callbacks, on the publisher thread

    void on_connected(amqp_connection& conn) override {
        stats.queues_kept.store(declare_topology(conn, options).kept.size(), std::memory_order_relaxed);
        conn.confirm_select();
        frames.emplace(static_cast<std::size_t>(amqp_get_frame_max(conn.state())));
        if (connections++ > 0) stats.reconnects.fetch_add(1, std::memory_order_relaxed);
        spdlog::info("broker {} connected; topology declared", conn.where());
        ledger.connected(clock::now());  // after every (re)connect: relay every unpublished job
        stats.connected = true;
        mailbox->set_open(true);
    }

    // The connection is gone: whatever was not confirmed is still unpublished in the outbox
    // and is relayed after the next connect; forget it here.
    void on_disconnected(std::string_view) override {
        mark_confirmed();  // what the broker confirmed is published, whatever came after
        stats.connected = false;
        stats.blocked = false;
        blocked = false;
        mailbox->set_open(false);
        ledger.disconnected(tracker.reset());
    }

    bool stopping() const override { return stopping_.load(); }

    amqp_step step(amqp_connection& conn, clock::time_point now) override {
        mark_confirmed();  // the confirms the last turn read
        read_mailbox(now);
        if (stopping_) {
            // Collect the confirms still owed for a second at most; unconfirmed jobs stay unpublished.
            if (!drain_until) drain_until = now + std::chrono::seconds(1);
            return {tracker.outstanding() == 0 || now >= *drain_until, false, *drain_until};
        }
        for (const auto& type : ledger.release_pauses(now)) {
            spdlog::info("publisher: job type {} may be sent again; its jobs in the outbox follow", type);
            set_paused(type, false);
        }
        if (redeclare) {
            // A return means a queue or binding is missing: declare the topology again (it is
            // idempotent), so a deleted queue comes back without waiting for a worker.
            redeclare = false;
            declare_topology(conn, options);
            spdlog::info("publisher: topology declared again on {}", conn.where());
        }
        if (auto page = ledger.next_claim(now)) claim(*page);
        if (auto held = ledger.next_renewal(now)) renew(std::move(*held), now);
        // While blocked the broker reads nothing: a publish would only fill the socket. A turn
        // sends at most turn_bytes before the frames are read again, so a connection.blocked
        // is seen before what was sent meanwhile could fill the socket's buffers.
        std::size_t sent = 0;
        auto may_send = [&] {
            if (blocked || tracker.outstanding() >= options.confirm_window) return false;
            stats.claims_lapsed.fetch_add(ledger.drop_lapsed(now), std::memory_order_relaxed);
            return ledger.has_next();
        };
        while (sent < turn_bytes && may_send()) sent += publish();
        if (!frames->empty()) {
            conn.write_all(frames->bytes());  // the turn's messages in one write
            stats.published.fetch_add(frames->messages(), std::memory_order_relaxed);
            frames->clear();
        }
        return {false, may_send(), ledger.next_deadline()};
    }

    void on_confirm(amqp_connection&, const amqp_confirm& c) override {
        if (c.ack) return settle(tracker.on_ack(c.tag, c.multiple));
        auto s = tracker.on_nack(c.tag, c.multiple);
        stats.nacked.fetch_add(s.failed.size(), std::memory_order_relaxed);
        settle(std::move(s));
    }

    void on_return(amqp_connection&, const amqp_returned& r) override {
        tracker.on_return(r.message_id);
        stats.returned.fetch_add(1, std::memory_order_relaxed);
        returned_why[r.routing_key] = std::to_string(r.reply_code) + " " + r.reply_text;
        spdlog::debug("broker returned job {} (routing key {}): {}", r.message_id, r.routing_key,
                      r.reply_text);
    }

    void on_flow(amqp_connection& conn, bool now_blocked, std::string_view reason) override {
        amqp_session_user::on_flow(conn, now_blocked, reason);  // logs it
        blocked = now_blocked;
        stats.blocked = now_blocked;
    }

    // ---- the work

    void read_mailbox(clock::time_point now) {
        auto mail = mailbox->take(stopping_ ? 0 : ledger.hand_over_room());
        for (const auto& m : mail.marks) {
            if (m.error) {
                stats.outbox_errors.fetch_add(1, std::memory_order_relaxed);
                spdlog::warn("outbox: marking {} job(s) published failed ({}); the relay sends them again",
                             m.published.size(), m.error.message());
            }
            stats.marked_late.fetch_add(ledger.marked(m.published, !m.error, now), std::memory_order_relaxed);
        }
        for (auto& c : mail.claims) {
            if (!c.error) {
                stats.republished.fetch_add(ledger.page_claimed(c.sweep, std::move(c.entries), now),
                                            std::memory_order_relaxed);
                continue;
            }
            // A store failure, not a broker one: the connection stays, the page is claimed again.
            stats.outbox_errors.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("outbox: claiming unpublished jobs failed ({}); trying again in {} ms",
                         c.error.message(), options.retry_delay.count());
            ledger.claim_failed(c.sweep, now);
        }
        for (const auto& r : mail.renewals) {
            if (r.error) {
                // The next renewal comes within relay_interval / 2; the lease outlasts two of them,
                // and a job whose claim may lapse meanwhile is not sent (drop_lapsed).
                stats.outbox_errors.fetch_add(1, std::memory_order_relaxed);
                spdlog::warn("outbox: renewing the claims on {} job(s) failed ({})", r.asked.size(),
                             r.error.message());
                continue;
            }
            if (const auto lost = ledger.renewed(r.asked, r.renewed, r.sent_at)) {
                stats.claims_lost.fetch_add(lost, std::memory_order_relaxed);
                spdlog::warn(
                    "outbox: {} claim(s) were taken over by another instance; those jobs are not sent", lost);
            }
        }
        if (mail.sweep) ledger.request_sweep();
        // A job's claim, made by its insert or its release, started after claimed_ms (on the
        // wall clock): that instant on this clock bounds its lease from below.
        const auto wall_now = model::now_ms();
        for (const auto& j : mail.jobs) {
            const auto age = std::chrono::milliseconds(std::max<std::int64_t>(0, wall_now - j.claimed_ms));
            ledger.hand_over(j.job, std::min(j.at, now - age), j.at, now);
        }
    }

    void claim(const relay_ledger::claim_request& page) {
        box.claim(page.after_seq, page.limit,
                  [mb = mailbox, sweep = page.sweep](std::error_code ec, std::vector<outbox::entry> entries) {
                      mb->post(publisher_mailbox::claim_answer{sweep, ec, std::move(entries)});
                  });
    }

    // Adds the next message to the turn's frames; returns its size. Its confirm is counted from
    // here: a write that fails takes the connection, and the tracker, with it.
    std::size_t publish() {
        const job_message& msg = ledger.next();
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                       AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        props.message_id = bytes(msg.uuid);
        props.type = bytes(msg.job_type);
        props.timestamp = static_cast<std::uint64_t>(msg.created_ms / 1000);
        job_message_properties contract(msg, model::now_ms());  // contract header, per-message TTL
        contract.apply(props);
        // mandatory: an unroutable message comes back as basic.return instead of vanishing.
        frames->add(amqp_connection::channel, bytes(options.exchange), bytes(msg.job_type), true, props,
                    bytes(msg.body));
        const std::size_t size = msg.body.size();
        tracker.on_publish(ledger.pop_next());
        return size;
    }

    void renew(std::vector<std::string> uuids, clock::time_point now) {
        box.renew(uuids, [mb = mailbox, asked = uuids, now](std::error_code ec,
                                                            std::vector<std::string> renewed) mutable {
            mb->post(publisher_mailbox::renew_answer{std::move(asked), std::move(renewed), now, ec});
        });
    }

    void set_paused(const std::string& type, bool paused) {
        if (const auto i = type_index(type)) {
            stats.type_paused[*i].store(paused, std::memory_order_relaxed);
            if (paused) stats.type_pauses[*i].fetch_add(1, std::memory_order_relaxed);
        }
    }

    // Failed messages stay in the outbox; each type that starts a pause is logged once.
    void pause_failed(const std::vector<job_message>& failed) {
        for (const auto& type : ledger.failed(failed, clock::now())) {
            set_paused(type, true);
            const auto why = returned_why.find(type);
            if (why != returned_why.end()) {
                spdlog::warn(
                    "publisher: the broker returned a {} job unroutable ({}): job type {} paused, its "
                    "jobs wait in the outbox; declaring the topology again",
                    type, why->second, type);
                redeclare = true;
            } else {
                spdlog::warn(
                    "publisher: the broker nacked a {} job (a queue at its bound?): job type {} "
                    "paused, its jobs wait in the outbox",
                    type, type);
            }
        }
        for (const auto& m : failed) {
            spdlog::debug("job {} (attempt {}) refused by the broker; it waits in the outbox trace_id={}",
                          m.uuid, m.attempt, model::trace_id_of(m.traceparent));
            returned_why.erase(m.job_type);
        }
    }

    void settle(confirm_tracker::settled s) {
        ledger.confirmed(s.confirmed);
        if (!s.confirmed.empty()) {
            stats.confirmed.fetch_add(s.confirmed.size(), std::memory_order_relaxed);
            for (auto& m : s.confirmed) {
                spdlog::debug("job {} published (attempt {}) trace_id={}", m.uuid, m.attempt,
                              model::trace_id_of(m.traceparent));
                confirmed.push_back({std::move(m.uuid), m.attempt});
            }
        }
        if (!s.failed.empty()) pause_failed(s.failed);
    }

    // One mark for every confirm a turn read: the broker sends several acks per read (each
    // multiple, as its queues commit), and a mark each was a write op and a wake-up of this
    // thread each. They stay known to the ledger until the answer, so a sweep meanwhile skips them.
    void mark_confirmed() {
        if (confirmed.empty()) return;
        std::vector<model::job_attempt> published = std::exchange(confirmed, {});
        box.mark_published(published, [mb = mailbox, published](std::error_code ec) mutable {
            mb->post(publisher_mailbox::mark_answer{std::move(published), ec});
        });
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
    std::vector<model::job_attempt> confirmed;  // by the broker this turn, to be marked published
    std::optional<publish_frames> frames;       // a turn's messages; sized for each connection
    std::uint64_t connections = 0;
    std::optional<clock::time_point> drain_until;
    bool blocked = false;                             // between connection.blocked and unblocked
    bool redeclare = false;                           // a return asked for the topology again
    std::map<std::string, std::string> returned_why;  // job type -> the broker's reason, until settled

    amqp_session session;
    session_thread thread;
};

publisher::publisher(amqp_options options, outbox& box) {
    if (options.urls.empty()) throw std::invalid_argument("amqp.urls: at least one broker URL is needed");
    impl_ = std::make_unique<impl>(std::move(options), box);
}

publisher::~publisher() {
    stop();
}

void publisher::start() {
    impl_->thread.start("jobsd-publisher", impl_->session);
}

void publisher::stop() {
    impl_->thread.stop([this] {
        impl_->stopping_ = true;
        impl_->mailbox->waker().notify();
    });
}

void publisher::submit(model::job job, std::optional<std::int64_t> claimed_ms) {
    impl_->submit(std::move(job), claimed_ms);
}

const publisher_stats& publisher::stats() const noexcept {
    return impl_->stats;
}

}  // namespace jobsd::queue

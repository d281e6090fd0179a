// The publisher thread: connect (trying each URL in turn, with backoff), declare the topology,
// then loop: take handed-over jobs, relay unpublished ones from the outbox, publish within the
// confirm window, read acks/nacks/returns, and mark confirmed jobs published in batches.
// It waits in poll() on the AMQP socket and an eventfd that submit() signals.
#include "queue/publisher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <unordered_set>

#include "queue/amqp_connection.hpp"
#include "queue/confirm_tracker.hpp"
#include "queue/job_message.hpp"
#include "queue/topology.hpp"

namespace jobsd::queue {

namespace {

using clock = std::chrono::steady_clock;

amqp_bytes_t bytes(const std::string& s) {
    return {s.size(), const_cast<char*>(s.data())};
}

}  // namespace

// What the publisher thread shares with submitters and with mark_published completions, which
// may outlive the publisher: hence a shared_ptr.
struct shared_state {
    std::mutex mu;
    std::condition_variable cv;    // wakes a reconnect backoff on stop
    std::deque<model::job> inbox;  // guarded by mu
    std::unordered_set<std::string>
        known;  // guarded by mu: uuids in inbox, pending, unconfirmed or being marked
    std::atomic<bool> sweep_requested{true};

    // Uuids marked published stay known a little longer: a relay query that started before the
    // mark committed reads from an older snapshot and would otherwise send them again.
    static constexpr std::chrono::seconds retire_after{10};
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::vector<std::string>>>
        retiring;  // guarded by mu

    // Called with mu held.
    void retire_old(std::chrono::steady_clock::time_point now) {
        while (!retiring.empty() && now - retiring.front().first >= retire_after) {
            for (const auto& u : retiring.front().second) known.erase(u);
            retiring.pop_front();
        }
    }
};

struct publisher::impl {
    impl(amqp_options o, outbox& b) : options(std::move(o)), box(b), state(std::make_shared<shared_state>()) {
        wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    ~impl() { ::close(wake_fd); }

    void wake() {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);  // full counter still wakes: ignore
    }

    void submit(model::job job) {
        bool was_empty = false;
        {
            std::lock_guard lock(state->mu);
            if (!stats.connected.load(std::memory_order_relaxed) ||
                state->inbox.size() >= options.publish_queue_max) {
                stats.deferred.fetch_add(1, std::memory_order_relaxed);
                state->sweep_requested = true;
                return;
            }
            if (!state->known.insert(job.uuid).second) return;  // the relay has it already
            was_empty = state->inbox.empty();
            state->inbox.push_back(std::move(job));
        }
        if (was_empty) wake();
    }

    void run() {
        auto backoff = options.reconnect_min;
        std::size_t url = 0;
        bool first = true;
        while (!stopping) {
            try {
                amqp_connection conn(options.urls[url], options.connect_timeout, options.heartbeat_s);
                declare_topology(conn, options);
                conn.confirm_select();
                if (!first) stats.reconnects.fetch_add(1, std::memory_order_relaxed);
                first = false;
                backoff = options.reconnect_min;
                spdlog::info("broker {} connected; topology declared", conn.where());
                stats.connected = true;
                state->sweep_requested = true;  // after every (re)connect: relay every unpublished job
                serve(conn);
                stats.connected = false;
                return;  // serve() returns only on stop
            } catch (const std::exception& e) {
                stats.connected = false;
                forget_in_flight();
                spdlog::warn("{}; retrying in {} ms", e.what(), backoff.count());
                url = (url + 1) % options.urls.size();
                std::unique_lock lock(state->mu);
                state->cv.wait_for(lock, backoff, [&] { return stopping.load(); });
                backoff = std::min(backoff * 2, options.reconnect_max);
            }
        }
    }

    void serve(amqp_connection& conn) {
        auto next_safety_sweep = clock::now() + options.relay_interval;
        for (;;) {
            if (stopping) {
                drain_confirms(conn, std::chrono::seconds(1));
                return;
            }
            const auto now = clock::now();
            while (!retry.empty() && retry.front().first <= now) {
                pending.push_back(std::move(retry.front().second));
                retry.pop_front();
                stats.republished.fetch_add(1, std::memory_order_relaxed);
            }
            take_inbox();
            if (state->sweep_requested.exchange(false) || now >= next_safety_sweep) {
                sweeping = true;
                sweep_cursor = 0;
                next_safety_sweep = now + options.relay_interval;
            }
            if (sweeping && pending.size() < options.relay_batch) relay_page();

            while (!pending.empty() && tracker.outstanding() < options.confirm_window) publish(conn);
            const bool read_any = read_frames(conn);
            const bool can_send = !pending.empty() && tracker.outstanding() < options.confirm_window;
            if (!read_any && !can_send && !(sweeping && pending.size() < options.relay_batch)) wait(conn);
        }
    }

    // Moves handed-over jobs to the send queue while it has room: with a broker slower than
    // ingestion the inbox then stays full, submit() leaves new jobs in the outbox, and memory stays
    // bounded by twice publish_queue_max instead of growing with the backlog.
    void take_inbox() {
        std::deque<model::job> jobs;
        {
            std::lock_guard lock(state->mu);
            while (!state->inbox.empty() && pending.size() + jobs.size() < options.publish_queue_max) {
                jobs.push_back(std::move(state->inbox.front()));
                state->inbox.pop_front();
            }
        }
        for (auto& j : jobs) pending.push_back(make_job_message(j));
    }

    void relay_page() {
        auto entries = box.claim(sweep_cursor, options.relay_batch);
        if (entries.size() < options.relay_batch)
            sweeping = false;
        else
            sweep_cursor = entries.back().seq;
        std::vector<model::job*> fresh;
        {
            std::lock_guard lock(state->mu);
            state->retire_old(clock::now());
            for (auto& e : entries)
                if (state->known.insert(e.job.uuid).second) fresh.push_back(&e.job);
        }
        for (auto* j : fresh) pending.push_back(make_job_message(*j));
        stats.republished.fetch_add(fresh.size(), std::memory_order_relaxed);
    }

    void publish(amqp_connection& conn) {
        const job_message& msg = pending.front();
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
        tracker.on_publish(std::move(pending.front()));
        pending.pop_front();
    }

    // Reads every frame already available; true when at least one was read.
    bool read_frames(amqp_connection& conn) {
        bool any = false;
        for (;;) {
            amqp_frame_t frame;
            timeval zero{0, 0};
            const int rc = amqp_simple_wait_frame_noblock(conn.state(), &frame, &zero);
            if (rc == AMQP_STATUS_TIMEOUT) break;
            if (rc != AMQP_STATUS_OK)
                throw amqp_error("broker " + conn.where() + ": connection lost: " + amqp_error_string2(rc));
            any = true;
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;
            switch (frame.payload.method.id) {
                case AMQP_BASIC_ACK_METHOD: {
                    const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
                    settle(tracker.on_ack(ack->delivery_tag, ack->multiple != 0));
                    break;
                }
                case AMQP_BASIC_NACK_METHOD: {
                    const auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
                    auto s = tracker.on_nack(nack->delivery_tag, nack->multiple != 0);
                    stats.nacked.fetch_add(s.failed.size(), std::memory_order_relaxed);
                    if (!s.failed.empty()) spdlog::warn("broker nacked {} job(s); retrying", s.failed.size());
                    settle(std::move(s));
                    break;
                }
                case AMQP_BASIC_RETURN_METHOD: {
                    const auto* ret = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
                    const std::string reason(static_cast<const char*>(ret->reply_text.bytes),
                                             ret->reply_text.len);
                    const std::string key(static_cast<const char*>(ret->routing_key.bytes),
                                          ret->routing_key.len);
                    amqp_message_t message;
                    conn.check(amqp_read_message(conn.state(), frame.channel, &message, 0),
                               "reading a returned message");
                    std::string id;
                    if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
                        id.assign(static_cast<const char*>(message.properties.message_id.bytes),
                                  message.properties.message_id.len);
                    amqp_destroy_message(&message);
                    tracker.on_return(id);
                    stats.returned.fetch_add(1, std::memory_order_relaxed);
                    spdlog::warn("broker returned job {} (routing key {}): {}; retrying", id, key, reason);
                    break;
                }
                case AMQP_CHANNEL_CLOSE_METHOD: {
                    const auto* close = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
                    throw amqp_error("broker " + conn.where() +
                                     " closed the channel: " + std::to_string(close->reply_code) + " " +
                                     std::string(static_cast<const char*>(close->reply_text.bytes),
                                                 close->reply_text.len));
                }
                case AMQP_CONNECTION_CLOSE_METHOD: {
                    const auto* close = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
                    amqp_connection_close_ok_t ok{};
                    amqp_send_method(conn.state(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
                    throw amqp_error("broker " + conn.where() +
                                     " closed the connection: " + std::to_string(close->reply_code) + " " +
                                     std::string(static_cast<const char*>(close->reply_text.bytes),
                                                 close->reply_text.len));
                }
                default:
                    break;  // e.g. connection.blocked: confirms will simply come later
            }
        }
        if (!amqp_frames_enqueued(conn.state())) amqp_maybe_release_buffers(conn.state());
        return any;
    }

    void settle(confirm_tracker::settled s) {
        if (!s.confirmed.empty()) {
            stats.confirmed.fetch_add(s.confirmed.size(), std::memory_order_relaxed);
            std::vector<std::string> uuids;
            uuids.reserve(s.confirmed.size());
            for (auto& m : s.confirmed) uuids.push_back(std::move(m.uuid));
            // The uuids stay "known" until the mark is committed, so a relay scan meanwhile
            // does not send them again.
            box.mark_published(uuids, [state = state, uuids](bool ok) mutable {
                const auto now = std::chrono::steady_clock::now();
                std::lock_guard lock(state->mu);
                if (ok) {
                    state->retiring.emplace_back(now, std::move(uuids));
                } else {
                    for (const auto& u : uuids) state->known.erase(u);
                    state->sweep_requested = true;  // still unpublished: the relay resends
                }
                state->retire_old(now);
            });
        }
        const auto due = clock::now() + options.retry_delay;
        for (auto& m : s.failed) retry.emplace_back(due, std::move(m));
    }

    // Sleeps until the socket or the eventfd is readable, or a short timeout (heartbeats and
    // retries are serviced by the loop).
    void wait(amqp_connection& conn) {
        if (amqp_frames_enqueued(conn.state()) || amqp_data_in_buffer(conn.state())) return;
        int timeout_ms = 200;
        if (!retry.empty()) {
            const auto until =
                std::chrono::duration_cast<std::chrono::milliseconds>(retry.front().first - clock::now());
            timeout_ms = static_cast<int>(std::clamp<std::int64_t>(until.count(), 0, timeout_ms));
        }
        pollfd fds[2] = {{conn.fd(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
        if (::poll(fds, 2, timeout_ms) > 0 && (fds[1].revents & POLLIN)) {
            std::uint64_t n;
            [[maybe_unused]] auto r = ::read(wake_fd, &n, sizeof n);
        }
    }

    void drain_confirms(amqp_connection& conn, std::chrono::milliseconds limit) {
        const auto deadline = clock::now() + limit;
        while (tracker.outstanding() > 0 && clock::now() < deadline) {
            if (!read_frames(conn)) wait(conn);
        }
    }

    // The connection is gone: whatever was not confirmed is still unpublished in the outbox
    // and will be relayed after the next connect; forget it here.
    void forget_in_flight() {
        auto unsettled = tracker.reset();
        std::lock_guard lock(state->mu);
        for (const auto& m : unsettled) state->known.erase(m.uuid);
        for (const auto& m : pending) state->known.erase(m.uuid);
        for (const auto& [t, m] : retry) state->known.erase(m.uuid);
        for (const auto& j : state->inbox) state->known.erase(j.uuid);
        pending.clear();
        retry.clear();
        state->inbox.clear();
        sweeping = false;
    }

    const amqp_options options;
    outbox& box;
    std::shared_ptr<shared_state> state;
    publisher_stats stats;
    std::atomic<bool> stopping{false};
    int wake_fd = -1;
    std::thread thread;

    // Publisher thread only.
    std::deque<job_message> pending;
    std::deque<std::pair<clock::time_point, job_message>> retry;
    confirm_tracker tracker;
    bool sweeping = false;
    std::int64_t sweep_cursor = 0;
};

publisher::publisher(amqp_options options, outbox& box)
    : impl_(std::make_unique<impl>(std::move(options), box)) {
    if (impl_->options.urls.empty())
        throw std::invalid_argument("amqp.urls: at least one broker URL is needed");
}

publisher::~publisher() {
    stop();
}

void publisher::start() {
    if (!impl_->thread.joinable()) impl_->thread = std::thread([this] { impl_->run(); });
}

void publisher::stop() {
    if (!impl_->thread.joinable()) return;
    {
        std::lock_guard lock(impl_->state->mu);
        impl_->stopping = true;
    }
    impl_->state->cv.notify_all();
    impl_->wake();
    impl_->thread.join();
}

void publisher::submit(model::job job) {
    impl_->submit(std::move(job));
}

const publisher_stats& publisher::stats() const noexcept {
    return impl_->stats;
}

}  // namespace jobsd::queue

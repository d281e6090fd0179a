// The reconnect loop (the one catch of the error rule) around the frame loop: step the user,
// read every frame already there and dispatch it, sleep in poll() on the socket and the
// wake-up fd when neither had anything to do.
#include "queue/amqp_session.hpp"

#include <poll.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>

#include "queue/amqp_bytes.hpp"
#include "queue/reconnect_plan.hpp"

namespace jobsd::queue {

namespace {

using clock = amqp_step::clock;

// Milliseconds from now until `until`, rounded up (so a deadline is never woken for just
// before it), at most `cap`.
int poll_timeout(clock::time_point until, std::chrono::milliseconds cap) {
    const auto now = clock::now();
    if (until <= now) return 0;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
    return static_cast<int>(std::min(left, cap).count());
}

// Frees a message read with amqp_read_message however the callback ends.
struct message_guard {
    amqp_message_t& message;
    ~message_guard() { amqp_destroy_message(&message); }
};

}  // namespace

amqp_session_options amqp_session_options::from(std::string name, const amqp_options& o) {
    amqp_session_options s;
    s.name = std::move(name);
    s.urls = o.urls;
    s.url_order = o.url_order;
    s.reconnect_min = o.reconnect_min;
    s.reconnect_max = o.reconnect_max;
    s.connect_timeout = o.connect_timeout;
    s.heartbeat_s = o.heartbeat_s;
    s.send_timeout = o.send_timeout;
    return s;
}

std::string_view amqp_delivery::body() const noexcept {
    return view(message->body);
}

std::string amqp_delivery::message_id() const {
    if (!(message->properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)) return {};
    return text(message->properties.message_id);
}

std::string amqp_delivery::header(std::string_view key) const {
    const auto& props = message->properties;
    if (!(props._flags & AMQP_BASIC_HEADERS_FLAG)) return {};
    for (int i = 0; i < props.headers.num_entries; ++i) {
        const auto& e = props.headers.entries[i];
        if (text(e.key) == key &&
            (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES))
            return text(e.value.value.bytes);
    }
    return {};
}

void amqp_session_user::on_delivery(amqp_connection&, const amqp_delivery&) {}
void amqp_session_user::on_confirm(amqp_connection&, const amqp_confirm&) {}
void amqp_session_user::on_return(amqp_connection&, const amqp_returned&) {}

void amqp_session_user::on_consumer_cancelled(amqp_connection& conn, std::string_view consumer_tag) {
    throw amqp_error("broker " + conn.where() + " cancelled consumer " + std::string(consumer_tag));
}

void amqp_session_user::on_flow(amqp_connection& conn, bool blocked, std::string_view reason) {
    if (blocked)
        spdlog::warn("broker {} blocked the connection ({}): sends wait until it unblocks", conn.where(),
                     reason);
    else
        spdlog::info("broker {} unblocked the connection", conn.where());
}

amqp_session::amqp_session(amqp_session_options options, amqp_session_user& user, const wakeup& wake)
    : options_(std::move(options)), user_(user), wake_(wake) {
    if (options_.urls.empty())
        throw std::invalid_argument(options_.name + ": at least one broker URL is needed");
}

void amqp_session::run() {
    reconnect_plan plan(options_.urls.size(), options_.url_order, std::random_device{}(),
                        options_.reconnect_min, options_.reconnect_max);
    send_watchdog watchdog(options_.send_timeout, [this] { return user_.stopping(); });
    while (!user_.stopping()) {
        std::string why;
        bool connected = false;
        const bool finished = attempt(options_.urls[plan.url()], watchdog, why, connected);
        if (connected) plan.connected();
        if (finished) {
            user_.on_disconnected({});
            return;
        }
        // The one place a session's failures end up (amqp_error; anything else a callback
        // let through is treated alike, so the thread never dies of it).
        user_.on_disconnected(why);
        if (user_.stopping()) {
            if (options_.log_failures) spdlog::warn("{}: {}; stopping", options_.name, why);
            return;
        }
        const auto wait = plan.failed();
        if (options_.log_failures)
            spdlog::warn("{}: {}; retrying in {} ms", options_.name, why, wait.count());
        sleep_unless_stopping(wait);
    }
}

bool amqp_session::attempt(const std::string& url, send_watchdog& watchdog, std::string& why,
                           bool& connected) {
    std::optional<amqp_connection> conn;
    bool finished = false;
    try {
        conn.emplace(url, options_.connect_timeout, options_.heartbeat_s, amqp_connection::notifications::on);
        conn->set_watchdog(&watchdog);
        watchdog.watch(conn->fd(), conn->where());
        user_.on_connected(*conn);
        connected = true;
        serve(*conn, watchdog);
        finished = true;
    } catch (const std::exception& e) {
        why = e.what();
    }
    if (conn) {
        // The polite close sends too: bounded like a turn, then the socket is forgotten before
        // it closes.
        watchdog.begin_turn();
        conn->close();
        watchdog.end_turn();
        watchdog.forget();
    }
    return finished;
}

void amqp_session::serve(amqp_connection& conn, send_watchdog& watchdog) {
    for (;;) {
        watchdog.begin_turn();
        const amqp_step next = user_.step(conn, clock::now());
        if (next.finished) return;
        const bool read_any = read_frames(conn);
        watchdog.end_turn();
        if (!read_any && !next.busy) wait(conn, next.wake_at);
    }
}

// Reads every frame already available; true when at least one was read.
bool amqp_session::read_frames(amqp_connection& conn) {
    const auto state = conn.state();
    bool any = false;
    for (;;) {
        amqp_frame_t frame;
        timeval zero{0, 0};
        const int rc = amqp_simple_wait_frame_noblock(state, &frame, &zero);
        if (rc == AMQP_STATUS_TIMEOUT) break;
        if (rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() + ": connection lost: " + amqp_error_string2(rc));
        any = true;
        if (frame.frame_type == AMQP_FRAME_METHOD) dispatch(conn, frame);
    }
    if (!amqp_frames_enqueued(state)) amqp_maybe_release_buffers(state);
    return any;
}

void amqp_session::dispatch(amqp_connection& conn, const amqp_frame_t& frame) {
    const auto state = conn.state();
    const void* decoded = frame.payload.method.decoded;
    switch (frame.payload.method.id) {
        case AMQP_BASIC_DELIVER_METHOD: {
            // Copied first: reading the message reuses the frame's memory. Frames of other
            // channels read meanwhile are queued by rabbitmq-c for the next wait_frame call.
            const auto* d = static_cast<const amqp_basic_deliver_t*>(decoded);
            const std::uint64_t tag = d->delivery_tag;
            const bool redelivered = d->redelivered != 0;
            const std::string consumer = text(d->consumer_tag);
            amqp_message_t message;
            conn.check(amqp_read_message(state, frame.channel, &message, 0), "reading a delivery");
            message_guard guard{message};
            user_.on_delivery(conn, {frame.channel, tag, redelivered, consumer, &message});
            return;
        }
        case AMQP_BASIC_ACK_METHOD: {
            const auto* a = static_cast<const amqp_basic_ack_t*>(decoded);
            user_.on_confirm(conn, {frame.channel, a->delivery_tag, a->multiple != 0, true});
            return;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const auto* n = static_cast<const amqp_basic_nack_t*>(decoded);
            user_.on_confirm(conn, {frame.channel, n->delivery_tag, n->multiple != 0, false});
            return;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            const auto* r = static_cast<const amqp_basic_return_t*>(decoded);
            amqp_returned out{frame.channel, r->reply_code, text(r->reply_text), text(r->routing_key), {}};
            amqp_message_t message;
            conn.check(amqp_read_message(state, frame.channel, &message, 0), "reading a returned message");
            {
                message_guard guard{message};
                if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
                    out.message_id = text(message.properties.message_id);
            }
            user_.on_return(conn, out);
            return;
        }
        case AMQP_BASIC_CANCEL_METHOD:  // sent by the broker: queue deleted, or its node lost
            user_.on_consumer_cancelled(conn,
                                        text(static_cast<const amqp_basic_cancel_t*>(decoded)->consumer_tag));
            return;
        case AMQP_CONNECTION_BLOCKED_METHOD:
            user_.on_flow(conn, true, text(static_cast<const amqp_connection_blocked_t*>(decoded)->reason));
            return;
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            user_.on_flow(conn, false, {});
            return;
        case AMQP_CHANNEL_CLOSE_METHOD: {
            const auto* c = static_cast<const amqp_channel_close_t*>(decoded);
            const std::string why = std::to_string(c->reply_code) + " " + text(c->reply_text);
            amqp_channel_close_ok_t ok{};
            amqp_send_method(state, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
            throw amqp_error("broker " + conn.where() + " closed channel " + std::to_string(frame.channel) +
                             ": " + why);
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            const auto* c = static_cast<const amqp_connection_close_t*>(decoded);
            const std::string why = std::to_string(c->reply_code) + " " + text(c->reply_text);
            amqp_connection_close_ok_t ok{};
            amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
            throw amqp_error("broker " + conn.where() + " closed the connection: " + why);
        }
        default:
            return;  // basic.cancel-ok, basic.qos-ok late replies and the like: nothing to do
    }
}

// Sleeps until the socket or the wake-up is readable, `until`, or the poll interval.
void amqp_session::wait(amqp_connection& conn, clock::time_point until) {
    if (amqp_frames_enqueued(conn.state()) || amqp_data_in_buffer(conn.state())) return;
    pollfd fds[2] = {{conn.fd(), POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
    if (::poll(fds, 2, poll_timeout(until, options_.poll_interval)) > 0 && (fds[1].revents & POLLIN))
        wake_.clear();
}

void amqp_session::sleep_unless_stopping(std::chrono::milliseconds d) {
    const auto until = clock::now() + d;
    while (!user_.stopping() && clock::now() < until) {
        pollfd f{wake_.fd(), POLLIN, 0};
        if (::poll(&f, 1, poll_timeout(until, options_.poll_interval)) > 0) wake_.clear();
    }
}

}  // namespace jobsd::queue

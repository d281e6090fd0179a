// rabbitmq-c calls with their failures turned into amqp_client_errors that name the broker.
#include "tests/support/amqp_client.hpp"

#include <amqp_tcp_socket.h>

#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "queue/amqp_bytes.hpp"

namespace jobsd::test {

namespace {

using queue::bytes;

using queue::text;

timeval to_timeval(std::chrono::milliseconds ms) {
    return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string describe(const amqp_rpc_reply_t& r) {
    switch (r.reply_type) {
        case AMQP_RESPONSE_NORMAL:
            return "ok";
        case AMQP_RESPONSE_NONE:
            return "no reply";
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return amqp_error_string2(r.library_error);
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
                const auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
                return "broker closed the connection: " + std::to_string(m->reply_code) + " " +
                       text(m->reply_text);
            }
            if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
                const auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
                return "broker closed the channel: " + std::to_string(m->reply_code) + " " +
                       text(m->reply_text);
            }
            return "broker error (method " + std::to_string(r.reply.id) + ")";
    }
    return "unknown reply";
}

received to_received(const amqp_envelope_t& env, const std::string& queue) {
    const auto& p = env.message.properties;
    received r;
    r.queue = queue;
    r.exchange = text(env.exchange);
    r.routing_key = text(env.routing_key);
    if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) r.message_id = text(p.message_id);
    if (p._flags & AMQP_BASIC_TYPE_FLAG) r.type = text(p.type);
    if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) r.content_type = text(p.content_type);
    if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) r.delivery_mode = p.delivery_mode;
    if (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) r.timestamp = p.timestamp;
    r.body = text(env.message.body);
    r.redelivered = env.redelivered != 0;
    if (p._flags & AMQP_BASIC_HEADERS_FLAG)
        for (int i = 0; i < p.headers.num_entries; ++i) {
            const auto& h = p.headers.entries[i];
            if (h.value.kind == AMQP_FIELD_KIND_UTF8 || h.value.kind == AMQP_FIELD_KIND_BYTES)
                r.headers[text(h.key)] = text(h.value.value.bytes);
        }
    return r;
}

}  // namespace

std::string redact_amqp_url(std::string_view url) {
    const auto scheme = url.find("://");
    const auto at = url.find('@');
    if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme)
        return std::string(url);
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

amqp_client::amqp_client(std::string url, std::chrono::milliseconds timeout) : where_(redact_amqp_url(url)) {
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    // amqp_parse_url points `info` into its (modified) argument: `url` must outlive the login.
    if (amqp_parse_url(url.data(), &info) != AMQP_STATUS_OK)
        fail("parsing the URL", "not a valid amqp:// URL");
    if (info.ssl) fail("parsing the URL", "amqps is not supported by this test client");
    // "amqp://host/" parses to an empty vhost; take it to mean "/", as jobsd does (amqp_connection).
    if (info.vhost == nullptr || info.vhost[0] == '\0') info.vhost = const_cast<char*>("/");

    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr) {
        amqp_destroy_connection(conn_);
        conn_ = nullptr;
        fail("creating a socket", "out of memory");
    }
    timeval tv = to_timeval(timeout);
    amqp_set_handshake_timeout(conn_, &tv);
    amqp_set_rpc_timeout(conn_, &tv);
    errno = 0;
    if (const int rc = amqp_socket_open_noblock(socket, info.host, info.port, &tv); rc != AMQP_STATUS_OK) {
        std::string why = amqp_error_string2(rc);
        if (rc == AMQP_STATUS_SOCKET_ERROR && errno != 0)
            why += std::string(" (") + std::strerror(errno) + ")";
        amqp_destroy_connection(conn_);
        conn_ = nullptr;
        fail("connecting", why);
    }
    // No heartbeats: this client is synchronous and short-lived, nothing would service them.
    const amqp_rpc_reply_t login = amqp_login(conn_, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                                              AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
        const std::string why = describe(login);
        amqp_destroy_connection(conn_);
        conn_ = nullptr;
        fail("logging in", why);
    }
    amqp_channel_open(conn_, channel_);
    const amqp_rpc_reply_t open = amqp_get_rpc_reply(conn_);
    if (open.reply_type != AMQP_RESPONSE_NORMAL) {
        const std::string why = describe(open);
        amqp_destroy_connection(conn_);
        conn_ = nullptr;
        fail("opening a channel", why);
    }
}

amqp_client::~amqp_client() {
    if (conn_ == nullptr) return;
    // Best effort: the broker may be gone; a short timeout keeps a failing test from hanging.
    timeval tv{2, 0};
    amqp_set_rpc_timeout(conn_, &tv);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn_);
}

void amqp_client::fail(std::string_view what, const std::string& why) const {
    throw amqp_client_error("AMQP broker " + where_ + ": " + std::string(what) + " failed: " + why);
}

void amqp_client::reopen_channel() {
    // The channel number may be reused once its close has been acknowledged.
    amqp_channel_open(conn_, channel_);
    const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) fail("reopening the channel", describe(r));
}

void amqp_client::check(amqp_rpc_reply_t reply, std::string_view what) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
    const std::string why = describe(reply);
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok{};
        amqp_send_method(conn_, channel_, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        reopen_channel();
    }
    fail(what, why);
}

const amqp_queue_declare_ok_t* amqp_client::passive_declare(const std::string& queue) {
    const auto* ok = amqp_queue_declare(conn_, channel_, bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    if (ok != nullptr) return ok;
    const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
        static_cast<amqp_channel_close_t*>(r.reply.decoded)->reply_code == AMQP_NOT_FOUND) {
        amqp_channel_close_ok_t close_ok{};
        amqp_send_method(conn_, channel_, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
        reopen_channel();
        return nullptr;
    }
    check(r, "passive declare of queue " + queue);
    return nullptr;  // not reached: check() throws for anything but success
}

std::optional<std::uint32_t> amqp_client::message_count(const std::string& queue) {
    const auto* ok = passive_declare(queue);
    return ok ? std::optional<std::uint32_t>(ok->message_count) : std::nullopt;
}

std::optional<std::uint32_t> amqp_client::consumer_count(const std::string& queue) {
    const auto* ok = passive_declare(queue);
    return ok ? std::optional<std::uint32_t>(ok->consumer_count) : std::nullopt;
}

void amqp_client::publish(const std::string& exchange, const std::string& routing_key,
                          const std::string& body, const std::string& message_id,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
    std::vector<amqp_table_entry_t> entries;
    for (const auto& [k, v] : headers) {
        amqp_table_entry_t e{};
        e.key = bytes(k);
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = bytes(v);
        entries.push_back(e);
    }
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 2;
    props.content_type = amqp_cstring_bytes("application/json");
    if (!message_id.empty()) {
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = bytes(message_id);
    }
    if (!entries.empty()) {
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers = {static_cast<int>(entries.size()), entries.data()};
    }
    const int rc =
        amqp_basic_publish(conn_, channel_, bytes(exchange), bytes(routing_key), 0, 0, &props, bytes(body));
    if (rc != AMQP_STATUS_OK) fail("publishing to " + exchange, amqp_error_string2(rc));
}

std::optional<received> amqp_client::reject_one(const std::string& queue, bool requeue) {
    const std::string what = "basic.get from " + queue;
    const amqp_rpc_reply_t r = amqp_basic_get(conn_, channel_, bytes(queue), 0);
    check(r, what);
    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) return std::nullopt;
    const auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
    const std::uint64_t tag = ok->delivery_tag;
    amqp_envelope_t env{};
    env.channel = channel_;
    env.delivery_tag = tag;
    env.redelivered = ok->redelivered;
    env.exchange = amqp_bytes_malloc_dup(ok->exchange);
    env.routing_key = amqp_bytes_malloc_dup(ok->routing_key);
    check(amqp_read_message(conn_, channel_, &env.message, 0), what + " (reading the message)");
    received got = to_received(env, queue);
    amqp_destroy_envelope(&env);
    const int rc = amqp_basic_reject(conn_, channel_, tag, requeue ? 1 : 0);
    if (rc != AMQP_STATUS_OK) fail(what + " (basic.reject)", amqp_error_string2(rc));
    return got;
}

void amqp_client::declare_bound_queue(const std::string& queue, const std::string& exchange,
                                      const std::string& binding_key) {
    amqp_queue_declare(conn_, channel_, bytes(queue), 0, 0, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(conn_), "declaring queue " + queue);
    amqp_queue_bind(conn_, channel_, bytes(queue), bytes(exchange), bytes(binding_key), amqp_empty_table);
    check(amqp_get_rpc_reply(conn_), "binding queue " + queue + " to " + exchange);
}

std::uint32_t amqp_client::purge(const std::string& queue) {
    const auto* ok = amqp_queue_purge(conn_, channel_, bytes(queue));
    check(amqp_get_rpc_reply(conn_), "purging queue " + queue);
    return ok != nullptr ? ok->message_count : 0;
}

void amqp_client::delete_queue(const std::string& queue) {
    amqp_queue_delete(conn_, channel_, bytes(queue), 0, 0);
    check(amqp_get_rpc_reply(conn_), "deleting queue " + queue);
}

void amqp_client::delete_exchange(const std::string& exchange) {
    amqp_exchange_delete(conn_, channel_, bytes(exchange), 0);
    check(amqp_get_rpc_reply(conn_), "deleting exchange " + exchange);
}

std::vector<received> amqp_client::drain(const std::string& queue, std::chrono::milliseconds idle_timeout) {
    const std::string what = "draining queue " + queue;
    // Prefetch bounds what the broker pushes ahead of our acks; quorum queues deliver faster
    // to a consumer than to basic.get, which is one consensus round per message.
    amqp_basic_qos(conn_, channel_, 0, 1000, 0);
    check(amqp_get_rpc_reply(conn_), what + " (basic.qos)");
    const auto* consume_ok =
        amqp_basic_consume(conn_, channel_, bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(conn_), what + " (basic.consume)");
    const std::string tag = text(consume_ok->consumer_tag);

    std::vector<received> out;
    // Takes one delivery within `wait`; false when none came.
    auto take = [&](std::chrono::milliseconds wait) -> bool {
        for (;;) {
            amqp_maybe_release_buffers(conn_);
            amqp_envelope_t env;
            timeval tv = to_timeval(wait);
            const amqp_rpc_reply_t r = amqp_consume_message(conn_, &env, &tv, 0);
            if (r.reply_type == AMQP_RESPONSE_NORMAL) {
                out.push_back(to_received(env, queue));
                const int rc = amqp_basic_ack(conn_, env.channel, env.delivery_tag, 0);
                amqp_destroy_envelope(&env);
                if (rc != AMQP_STATUS_OK) fail(what + " (basic.ack)", amqp_error_string2(rc));
                return true;
            }
            if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
                return false;
            if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
                // A frame other than a delivery is waiting: see whether it ends the consumer.
                amqp_frame_t frame;
                const int rc = amqp_simple_wait_frame(conn_, &frame);
                if (rc != AMQP_STATUS_OK) fail(what, amqp_error_string2(rc));
                if (frame.frame_type != AMQP_FRAME_METHOD) continue;
                switch (frame.payload.method.id) {
                    case AMQP_CHANNEL_CLOSE_METHOD: {
                        const auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
                        const std::string why =
                            "broker closed the channel: " + std::to_string(m->reply_code) + " " +
                            text(m->reply_text);
                        amqp_channel_close_ok_t ok{};
                        amqp_send_method(conn_, channel_, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
                        reopen_channel();
                        fail(what, why);
                    }
                    case AMQP_CONNECTION_CLOSE_METHOD:
                        fail(what, "broker closed the connection");
                    case AMQP_BASIC_CANCEL_METHOD:
                        fail(what, "broker cancelled the consumer (queue deleted?)");
                    default:
                        continue;
                }
            }
            fail(what, describe(r));
        }
    };

    while (take(idle_timeout)) {
    }
    // Deliveries that crossed the cancel on the wire are queued by rabbitmq-c while it waits for
    // cancel-ok; take and ack them too, so none is left unacked to come back as a redelivery.
    amqp_basic_cancel(conn_, channel_, bytes(tag));
    check(amqp_get_rpc_reply(conn_), what + " (basic.cancel)");
    while (amqp_frames_enqueued(conn_) && take(std::chrono::milliseconds(0))) {
    }
    return out;
}

}  // namespace jobsd::test

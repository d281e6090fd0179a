// rabbitmq-c calls with their failures turned into readable amqp_errors.
#include "queue/amqp_connection.hpp"

#include <amqp_tcp_socket.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

#include "queue/amqp_bytes.hpp"

namespace jobsd::queue {

namespace {

std::string describe(const amqp_rpc_reply_t& r) {
    switch (r.reply_type) {
        case AMQP_RESPONSE_NORMAL:
            return "ok";
        case AMQP_RESPONSE_NONE:
            return "no reply (missing RPC reply type)";
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

timeval to_timeval(std::chrono::milliseconds ms) {
    return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

amqp_arguments& amqp_arguments::add(std::string key, std::string value) {
    strings_.emplace_back(std::move(key), std::move(value));
    return *this;
}

amqp_arguments& amqp_arguments::add(std::string key, std::int64_t value) {
    ints_.emplace_back(std::move(key), value);
    return *this;
}

amqp_arguments& amqp_arguments::add_timestamp(std::string key, std::uint64_t seconds) {
    timestamps_.emplace_back(std::move(key), seconds);
    return *this;
}

amqp_table_t amqp_arguments::table() {
    entries_.clear();
    for (auto& [k, v] : timestamps_) {
        amqp_table_entry_t e{};
        e.key = bytes(k);
        e.value.kind = AMQP_FIELD_KIND_TIMESTAMP;
        e.value.value.u64 = v;
        entries_.push_back(e);
    }
    for (auto& [k, v] : strings_) {
        amqp_table_entry_t e{};
        e.key = bytes(k);
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = bytes(v);
        entries_.push_back(e);
    }
    for (auto& [k, v] : ints_) {
        amqp_table_entry_t e{};
        e.key = bytes(k);
        e.value.kind = AMQP_FIELD_KIND_I64;
        e.value.value.i64 = v;
        entries_.push_back(e);
    }
    return {static_cast<int>(entries_.size()), entries_.data()};
}

std::string redact_url(const std::string& url) {
    const auto scheme = url.find("://");
    const auto at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
}

amqp_connection::amqp_connection(const std::string& url, std::chrono::milliseconds timeout,
                                 unsigned heartbeat_s, notifications notify) {
    std::string buffer = url;  // amqp_parse_url writes into its argument
    amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK)
        throw amqp_error("broker URL " + redact_url(url) + " is not a valid amqp:// URL");
    // "amqp://host/" parses to an empty vhost; like most clients, take it to mean the default
    // vhost "/" (spell another one out, or "%2f" for "/", to be explicit).
    if (info.vhost == nullptr || info.vhost[0] == '\0') info.vhost = const_cast<char*>("/");
    where_ = std::string(info.host) + ":" + std::to_string(info.port);
    if (std::string_view(info.vhost) != "/") where_ += std::string(" vhost ") + info.vhost;
    if (info.ssl) throw amqp_error("broker URL " + redact_url(url) + ": amqps is not supported yet");

    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (!socket) {
        amqp_destroy_connection(conn_);
        throw amqp_error("cannot create a socket for " + where_);
    }
    timeval tv = to_timeval(timeout);
    amqp_set_handshake_timeout(conn_, &tv);
    amqp_set_rpc_timeout(conn_, &tv);
    errno = 0;
    if (int rc = amqp_socket_open_noblock(socket, info.host, info.port, &tv); rc != AMQP_STATUS_OK) {
        std::string why = amqp_error_string2(rc);
        // errno tells "refused" from "unreachable"; EINPROGRESS is only the non-blocking connect's residue.
        if (rc == AMQP_STATUS_SOCKET_ERROR && errno != 0 && errno != EINPROGRESS)
            why += std::string(" (") + std::strerror(errno) + ")";
        amqp_destroy_connection(conn_);
        throw amqp_error("cannot connect to broker " + where_ + ": " + why);
    }
    // rabbitmq-c merges these capabilities with its own defaults.
    amqp_table_entry_t capabilities[2] = {};
    capabilities[0].key = amqp_cstring_bytes("connection.blocked");
    capabilities[1].key = amqp_cstring_bytes("consumer_cancel_notify");
    for (auto& c : capabilities) {
        c.value.kind = AMQP_FIELD_KIND_BOOLEAN;
        c.value.value.boolean = 1;
    }
    amqp_table_entry_t client_property{};
    client_property.key = amqp_cstring_bytes("capabilities");
    client_property.value.kind = AMQP_FIELD_KIND_TABLE;
    client_property.value.value.table = {2, capabilities};
    const amqp_table_t properties{1, &client_property};
    const amqp_rpc_reply_t login = amqp_login_with_properties(
        conn_, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, static_cast<int>(heartbeat_s),
        notify == notifications::on ? &properties : nullptr, AMQP_SASL_METHOD_PLAIN, info.user,
        info.password);
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
        std::string why = describe(login);
        // RabbitMQ drops the socket on bad credentials without a reason a client can read.
        if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
            why += " (wrong user or password, or a vhost the user may not use?)";
        amqp_destroy_connection(conn_);
        throw amqp_error("cannot log in to broker " + where_ + " as " + info.user + ": " + why);
    }
    amqp_channel_open(conn_, channel);
    try {
        check_last("channel.open");
    } catch (...) {
        amqp_destroy_connection(conn_);
        throw;
    }
}

void amqp_connection::close() noexcept {
    if (std::exchange(closed_, true)) return;
    // Best effort: the broker may be gone already, and nothing waits on the answer.
    timeval tv{1, 0};
    amqp_set_rpc_timeout(conn_, &tv);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
}

amqp_connection::~amqp_connection() {
    close();
    amqp_destroy_connection(conn_);
}

void amqp_connection::check(amqp_rpc_reply_t reply, std::string_view what) const {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL)
        throw amqp_error("broker " + where_ + ": " + std::string(what) + " failed: " + describe(reply));
}

void amqp_connection::declare_exchange(const std::string& name, const char* type, amqp_channel_t ch) {
    amqp_exchange_declare(conn_, ch, bytes(name), amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
    check_last("declaring exchange " + name);
}

void amqp_connection::declare_queue(const std::string& name, amqp_arguments& args, amqp_channel_t ch) {
    amqp_queue_declare(conn_, ch, bytes(name), 0, 1, 0, 0, args.table());
    check_last("declaring queue " + name);
}

std::optional<std::string> amqp_connection::declare_queue_or_keep(const std::string& name,
                                                                  amqp_arguments& args, amqp_channel_t ch) {
    amqp_queue_declare(conn_, ch, bytes(name), 0, 1, 0, 0, args.table());
    const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return std::nullopt;
    const bool mismatch =
        r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
        static_cast<amqp_channel_close_t*>(r.reply.decoded)->reply_code == AMQP_PRECONDITION_FAILED;
    if (!mismatch) check(r, "declaring queue " + name);
    std::string why = describe(r);
    amqp_channel_close_ok_t ok{};
    if (amqp_send_method(conn_, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK)
        throw amqp_error("broker " + where_ + ": channel.close-ok failed");
    open_channel(ch);
    amqp_queue_declare(conn_, ch, bytes(name), 1, 0, 0, 0, amqp_empty_table);
    check_last("checking that queue " + name + " exists");
    return why;
}

void amqp_connection::bind_queue(const std::string& queue, const std::string& exchange,
                                 const std::string& key, amqp_channel_t ch) {
    amqp_queue_bind(conn_, ch, bytes(queue), bytes(exchange), bytes(key), amqp_empty_table);
    check_last("binding queue " + queue + " to " + exchange);
}

void amqp_connection::open_channel(amqp_channel_t ch) {
    amqp_channel_open(conn_, ch);
    check_last("opening channel " + std::to_string(ch));
}

void amqp_connection::close_channel(amqp_channel_t ch) {
    check(amqp_channel_close(conn_, ch, AMQP_REPLY_SUCCESS), "closing channel " + std::to_string(ch));
}

void amqp_connection::confirm_select() {
    amqp_confirm_select(conn_, channel);
    check_last("confirm.select");
}

void amqp_connection::write_all(std::string_view bytes) {
    const int fd = amqp_get_sockfd(conn_);
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, -1) >= 0 || errno == EINTR) continue;
        }
        throw amqp_error("broker " + where_ + ": connection lost: sending failed: " + std::strerror(errno));
    }
}

}  // namespace jobsd::queue

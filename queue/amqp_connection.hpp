// One AMQP 0-9-1 connection with one channel, over rabbitmq-c.
// Thread safety: none; a connection belongs to the one thread that made it.
#pragma once

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "queue/send_watchdog.hpp"

namespace jobsd::queue {

// A broker or connection failure; the message says what failed, without the password.
class amqp_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// An AMQP field table built from string and integer entries, owning its storage.
class amqp_arguments {
  public:
    amqp_arguments& add(std::string key, std::string value);
    amqp_arguments& add(std::string key, std::int64_t value);
    // An AMQP timestamp (seconds since the epoch), e.g. a stream's x-stream-offset.
    amqp_arguments& add_timestamp(std::string key, std::uint64_t seconds);
    amqp_table_t table();

  private:
    std::vector<std::pair<std::string, std::string>> strings_;
    std::vector<std::pair<std::string, std::int64_t>> ints_;
    std::vector<std::pair<std::string, std::uint64_t>> timestamps_;
    std::vector<amqp_table_entry_t> entries_;
};

class amqp_connection {
  public:
    static constexpr amqp_channel_t channel = 1;

    // What the broker may send unasked besides deliveries and confirms. With `notifications`
    // the client asks for connection.blocked/unblocked (flow control on a resource alarm) and
    // basic.cancel (a consumer ended by the broker); only a connection whose every frame is read
    // by a frame loop (amqp_session) should ask, since a plain RPC caller would only queue them.
    enum class notifications { off, on };

    // Connects, logs in and opens the channel. Throws amqp_error naming the URL and the failure
    // (refused, timed out, wrong credentials, missing vhost).
    amqp_connection(const std::string& url, std::chrono::milliseconds timeout, unsigned heartbeat_s,
                    notifications notify = notifications::off);
    ~amqp_connection();  // close() if not done yet, then frees the connection (closing its socket)
    amqp_connection(const amqp_connection&) = delete;
    amqp_connection& operator=(const amqp_connection&) = delete;

    // Best effort connection.close (the broker may be gone; waits 1 s at most for its answer,
    // plus the send, which only a session's send watchdog bounds). Idempotent.
    void close() noexcept;

    amqp_connection_state_t state() const noexcept { return conn_; }
    int fd() const noexcept { return amqp_get_sockfd(conn_); }
    const std::string& where() const noexcept { return where_; }

    // The watchdog of the session this connection serves (none elsewhere), and a scope for a
    // call of a user that may take long without sending (see send_watchdog::quiet_scope).
    void set_watchdog(send_watchdog* w) noexcept { watchdog_ = w; }
    send_watchdog::quiet_scope quiet() noexcept { return send_watchdog::quiet_scope(watchdog_); }

    // Throws amqp_error for a failed synchronous call, with `what` as context.
    void check(amqp_rpc_reply_t reply, std::string_view what) const;
    void check_last(std::string_view what) const { check(amqp_get_rpc_reply(conn_), what); }

    // Synchronous declarations on channel `ch` (the default channel unless said otherwise).
    void declare_exchange(const std::string& name, const char* type, amqp_channel_t ch = channel);
    void declare_queue(const std::string& name, amqp_arguments& args, amqp_channel_t ch = channel);
    // Declares the queue; when it exists with other arguments (406 PRECONDITION_FAILED, which
    // closes channel `ch`), reopens `ch`, checks that the queue exists and returns the broker's
    // reason instead of throwing: the queue is kept as it was declared before.
    std::optional<std::string> declare_queue_or_keep(const std::string& name, amqp_arguments& args,
                                                     amqp_channel_t ch);
    void bind_queue(const std::string& queue, const std::string& exchange, const std::string& key,
                    amqp_channel_t ch = channel);
    void open_channel(amqp_channel_t ch);
    void close_channel(amqp_channel_t ch);
    void confirm_select();

    // Writes `bytes` (whole frames) to the socket as they are, past rabbitmq-c, waiting while the
    // socket's buffer is full (a session's send watchdog bounds the wait, as it does
    // rabbitmq-c's own sends). Only between calls into rabbitmq-c on the connection's thread,
    // so no frame of its own is cut in two. Throws amqp_error when the connection is gone.
    void write_all(std::string_view bytes);

  private:
    amqp_connection_state_t conn_ = nullptr;
    std::string where_;  // host:port/vhost, for messages
    send_watchdog* watchdog_ = nullptr;
    bool closed_ = false;
};

// The URL without its password, for logs.
std::string redact_url(const std::string& url);

}  // namespace jobsd::queue

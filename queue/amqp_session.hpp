// One AMQP connection kept up for one user: connecting over the URL list with backoff, the
// non-blocking frame loop that hands every frame to the user, and the wait on the socket and a
// wake-up fd. The publisher, the event consumer, the worker runtime and the bench run on it.
//
// Flow control: connection.blocked and .unblocked reach the user (on_flow), who should stop
// sending while blocked; whatever is sent anyway is bounded by a send watchdog
// (queue/send_watchdog.hpp): a turn of the loop that runs past send_timeout has the socket shut
// down, which ends the connection like any other failure. A user call that may rightly take
// long without sending wraps itself in conn.quiet().
//
// Error rule: broker and connection failures throw amqp_error inside a session, from the frame
// loop and from the user's callbacks alike, and are caught in exactly one place, run()'s
// reconnect loop: it tells the user (on_disconnected), waits its backoff and connects again,
// unless the user is stopping (any other exception a callback lets through is treated alike,
// so the thread never dies of it). Expected outcomes (a delivery, an ack, a nack, a return, a
// consumer cancelled by the broker, flow control) are values handed to the user's callbacks.
//
// Thread safety: run() on one thread, which owns the connection and makes every callback; the
// wake-up may be raised from any thread (and from a signal handler).
#pragma once

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/amqp_connection.hpp"
#include "queue/amqp_options.hpp"
#include "queue/wakeup.hpp"

namespace jobsd::queue {

struct amqp_session_options {
    // Names the session in its log lines ("publisher", "events", "worker").
    std::string name;
    // Broker URLs, where to start in them, the backoff between attempts (doubling from min to
    // max), the connect and handshake deadline and the heartbeat: as in amqp_options.
    std::vector<std::string> urls;
    amqp_url_order url_order = amqp_url_order::spread;
    std::chrono::milliseconds reconnect_min{200};
    std::chrono::milliseconds reconnect_max{5'000};
    std::chrono::milliseconds connect_timeout{5'000};
    unsigned heartbeat_s = 10;
    // Longest sleep between two turns of the loop: rabbitmq-c services heartbeats only inside
    // its calls, so an idle session still turns this often.
    std::chrono::milliseconds poll_interval{200};
    // Longest turn of the loop (a user's step, the frames it reads and what it sends meanwhile)
    // before the send watchdog shuts the socket down (amqp.send_timeout_ms; 1 s once stopping).
    std::chrono::milliseconds send_timeout{10'000};
    // Log each failure and the wait before the next attempt (warn). Off for tools that report
    // on_disconnected's text themselves.
    bool log_failures = true;

    static amqp_session_options from(std::string name, const amqp_options& o);
};

// A basic.deliver with its message, valid during the callback only.
struct amqp_delivery {
    amqp_channel_t channel = 0;
    std::uint64_t tag = 0;
    bool redelivered = false;
    std::string_view consumer_tag;
    const amqp_message_t* message = nullptr;

    std::string_view body() const noexcept;
    std::string message_id() const;                  // "" when the message has none
    std::string header(std::string_view key) const;  // a string header's value, "" when absent
};

// basic.ack (ack) or basic.nack (!ack) of a channel in confirm mode.
struct amqp_confirm {
    amqp_channel_t channel = 0;
    std::uint64_t tag = 0;
    bool multiple = false;
    bool ack = true;
};

// basic.return of a mandatory message that no queue took; its ack follows.
struct amqp_returned {
    amqp_channel_t channel = 0;
    std::uint16_t reply_code = 0;
    std::string reply_text;
    std::string routing_key;
    std::string message_id;  // "" when the message had none
};

// What the user wants after a step.
struct amqp_step {
    using clock = std::chrono::steady_clock;
    bool finished = false;                                 // done: close the connection, return from run()
    bool busy = false;                                     // more to do at once: do not sleep
    clock::time_point wake_at = clock::time_point::max();  // sleep no longer than this
};

class amqp_session_user {
  public:
    virtual ~amqp_session_user() = default;

    // A connection is up: declare, open channels, consume. May throw amqp_error.
    virtual void on_connected(amqp_connection& conn) = 0;
    // Periodic work after each turn of the frame loop and each wake-up: send what is due,
    // check deadlines. Throws amqp_error on a broker failure.
    virtual amqp_step step(amqp_connection& conn, amqp_step::clock::time_point now) = 0;
    // An attempt failed or the connection ended (`why` is "" when the user finished): forget
    // what was in flight on it. May be called without a connection ever made. Must not throw.
    virtual void on_disconnected(std::string_view why) = 0;
    // Asked between connections: true ends run() instead of (re)connecting. Also asked by the
    // send watchdog's thread, so it must be thread-safe (an atomic).
    virtual bool stopping() const = 0;

    // Frames; each may throw amqp_error. The defaults ignore deliveries, confirms and returns,
    // treat a consumer cancelled by the broker as a failure (the reconnect declares and
    // consumes again) and log flow control.
    virtual void on_delivery(amqp_connection& conn, const amqp_delivery& d);
    virtual void on_confirm(amqp_connection& conn, const amqp_confirm& c);
    virtual void on_return(amqp_connection& conn, const amqp_returned& r);
    virtual void on_consumer_cancelled(amqp_connection& conn, std::string_view consumer_tag);
    // connection.blocked (the broker stopped reading: a resource alarm) and connection.unblocked.
    virtual void on_flow(amqp_connection& conn, bool blocked, std::string_view reason);
};

class amqp_session {
  public:
    // `user` and `wake` must outlive the session. urls must not be empty.
    amqp_session(amqp_session_options options, amqp_session_user& user, const wakeup& wake);

    // Connects and serves until the user's step says finished or, between connections, the user
    // is stopping. Never throws amqp_error (other exceptions, such as bad_alloc, pass through).
    void run();

    const amqp_session_options& options() const noexcept { return options_; }

  private:
    // One connection's life: false when it failed (`why` says how), true when the user finished.
    bool attempt(const std::string& url, send_watchdog& watchdog, std::string& why, bool& connected);
    void serve(amqp_connection& conn, send_watchdog& watchdog);
    bool read_frames(amqp_connection& conn);
    void dispatch(amqp_connection& conn, const amqp_frame_t& frame);
    void wait(amqp_connection& conn, amqp_step::clock::time_point until);
    void sleep_unless_stopping(std::chrono::milliseconds d);

    const amqp_session_options options_;
    amqp_session_user& user_;
    const wakeup& wake_;
};

}  // namespace jobsd::queue

// Live status events between jobsd instances that share a store (PostgreSQL): a client's session
// stream is served by one instance, but a job's status changes are made wherever its request, its
// worker event or its sweep landed. Each instance consumes an exclusive, auto-deleted queue of
// its own, bound to one fanout exchange (amqp.status_exchange), and publishes to it the events it
// makes while another instance has a stream open; every instance announces once a second that it
// has one, and the others forward for three seconds after each announcement. Nothing is sent
// while no instance has a stream open.
//
// The stream is live, not a log: messages are transient and unconfirmed, an instance that is
// disconnected or far behind misses events (a client reads the job's state with GET), and the
// order of two events made on two instances is the order they arrive in.
//
// Thread safety: start/stop from one owner thread; the status_outlet members and stats() from
// any; the connection lives on its own thread (an amqp_session), which also calls `deliver`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "queue/amqp_options.hpp"
#include "queue/status_outlet.hpp"

namespace jobsd::queue {

struct status_relay_stats {
    std::atomic<std::uint64_t> forwarded{0};  // events sent to the other instances
    std::atomic<std::uint64_t> received{0};   // events from the other instances, handed to `deliver`
    std::atomic<std::uint64_t> dropped{0};    // events not sent: the relay was disconnected or far behind
    std::atomic<bool> connected{false};
};

class status_relay final : public status_outlet {
  public:
    struct hooks {
        // An event from another instance, for this instance's streams (on the relay's thread).
        std::function<void(const std::string& account_id, const std::string& session_id,
                           const std::string& event)>
            deliver;
        // Streams open here now (announced while above zero).
        std::function<std::size_t()> local_listeners;
    };

    status_relay(amqp_options options, hooks h);
    ~status_relay() override;
    status_relay(const status_relay&) = delete;
    status_relay& operator=(const status_relay&) = delete;

    void start();
    void stop();

    bool listened_elsewhere() const noexcept override;
    void forward(std::string_view account_id, std::string_view session_id, std::string_view event) override;
    void listening_here() noexcept override;

    const status_relay_stats& stats() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace jobsd::queue

// A plain synchronous AMQP 0-9-1 client over rabbitmq-c, for tests that look at what really
// reached the broker: drain a queue, count, purge and delete what a test declared.
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

namespace jobsd::test {

// A broker failure; the message names the URL (password hidden) and the operation.
class amqp_client_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One message as a consumer got it. Properties the publisher did not set are empty / 0 /
// nullopt, so a test can tell "absent" from a wrong value.
struct received {
    std::string queue;  // the queue it was drained from
    std::string exchange;
    std::string routing_key;
    std::string message_id;
    std::string type;
    std::string content_type;
    std::uint8_t delivery_mode = 0;
    std::optional<std::uint64_t> timestamp;  // seconds since the epoch, as AMQP defines it
    std::string body;
    bool redelivered = false;
};

// One connection with one channel. Declares nothing unless asked.
// Thread safety: none; one client per thread (rabbitmq-c connections belong to one thread).
class amqp_client {
  public:
    // Connects and logs in. Throws amqp_client_error naming `url` when the broker cannot be
    // reached or refuses the login within `timeout` (which also bounds every later RPC).
    explicit amqp_client(std::string url, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~amqp_client();  // closes politely, never throws
    amqp_client(const amqp_client&) = delete;
    amqp_client& operator=(const amqp_client&) = delete;

    // Consumes `queue` with manual acks until no message arrives for `idle_timeout`, acking
    // each one; returns them in delivery order. Throws if the queue does not exist.
    std::vector<received> drain(const std::string& queue, std::chrono::milliseconds idle_timeout);

    // Ready messages in `queue` (passive declare), or nullopt when there is no such queue.
    std::optional<std::uint32_t> message_count(const std::string& queue);
    // Consumers of `queue` (passive declare), or nullopt when there is no such queue.
    std::optional<std::uint32_t> consumer_count(const std::string& queue);

    // Publishes `body` as a persistent JSON message (no confirm); `message_id` and the string
    // `headers` are set when given. Throws when the broker refuses it on the spot.
    void publish(const std::string& exchange, const std::string& routing_key, const std::string& body,
                 const std::string& message_id = {},
                 const std::vector<std::pair<std::string, std::string>>& headers = {});

    // basic.get of one message from `queue`, then basic.reject of it with `requeue`: a consumer
    // that gives the message back (each such return counts against a quorum queue's delivery
    // limit). Returns the message, or nullopt when the queue had none ready.
    std::optional<received> reject_one(const std::string& queue, bool requeue);

    // Removes the ready messages; returns how many. Throws if the queue does not exist.
    std::uint32_t purge(const std::string& queue);

    // Unconditional deletes; deleting what does not exist succeeds (RabbitMQ >= 3.x semantics).
    void delete_queue(const std::string& queue);
    void delete_exchange(const std::string& exchange);

    // The URL with its password replaced by ***, as used in error messages.
    const std::string& where() const noexcept { return where_; }

  private:
    // Throws for a failed RPC; after a channel-level error the channel is reopened first, so
    // the client stays usable (a passive declare of a missing queue closes the channel).
    void check(amqp_rpc_reply_t reply, std::string_view what);
    [[noreturn]] void fail(std::string_view what, const std::string& why) const;
    void reopen_channel();

    amqp_connection_state_t conn_ = nullptr;
    // Passive declare: the queue's declare-ok, or nullptr when it does not exist.
    const amqp_queue_declare_ok_t* passive_declare(const std::string& queue);

    std::string where_;
    amqp_channel_t channel_ = 1;
};

// `url` with the password, if any, replaced by ***.
std::string redact_amqp_url(std::string_view url);

}  // namespace jobsd::test

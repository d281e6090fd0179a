// jobsd assembled: the store, the catalog cache, the io threads, the listener and the
// periodic catalog refresh. main() and in-process tests both drive it through this class.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "queue/control_publisher.hpp"
#include "queue/event_consumer.hpp"
#include "queue/publisher.hpp"
#include "queue/status_relay.hpp"
#include "server/api.hpp"
#include "server/catalog_cache.hpp"
#include "server/config.hpp"
#include "server/job_release.hpp"
#include "server/lifecycle_sweeper.hpp"
#include "server/metrics.hpp"
#include "server/notification_hub.hpp"
#include "server/services.hpp"
#include "server/webhooks/webhook_dispatcher.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class app {
  public:
    // Loads the TLS certificate and key when TLS is on, opens the store, applies the seed, loads
    // the catalog and binds the listening socket.
    // Throws on any of these failing: jobsd does not start half-ready.
    explicit app(config cfg);
    ~app();

    // The bound port (useful when the config asked for port 0).
    std::uint16_t port() const noexcept { return port_; }

    // Serves until stop(); the calling thread becomes io thread 0.
    void run();

    // Stops accepting, gives requests in flight up to shutdown_grace, then ends run().
    // Thread safety: may be called from any thread, more than once.
    void stop();

  private:
    // Coroutines on io thread 0. Members, not lambdas: a coroutine lambda's captures die with
    // the lambda object, before the coroutine does.
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> refresh_catalog();
    boost::asio::awaitable<void> drain();
    // Waits until no request is in flight or `deadline`; true when none is.
    boost::asio::awaitable<bool> wait_for_requests(std::chrono::steady_clock::time_point deadline);
    boost::asio::awaitable<void> watch_outbox();
    boost::asio::awaitable<void> sample_ingest();
    void make_broker_parts();  // amqp.enabled: publisher, events, control, status relay

    config config_;
    // Built before anything else, so a bad certificate or key stops startup first. Empty when
    // tls.enabled is false. Shared read-only by every session (see make_tls_context).
    std::optional<boost::asio::ssl::context> tls_;
    std::unique_ptr<store::store> store_;
    catalog_cache catalog_;
    metrics metrics_;
    notification_hub hub_;
    std::unique_ptr<queue::outbox> outbox_;
    std::unique_ptr<queue::publisher> publisher_;  // null when amqp.enabled is false
    std::unique_ptr<queue::event_sink> event_sink_;
    std::unique_ptr<queue::event_consumer> event_consumer_;  // null when amqp.enabled is false
    std::unique_ptr<queue::control_outbox> control_outbox_;
    std::unique_ptr<queue::control_publisher> control_;  // null when amqp.enabled is false
    // Live session events between instances: only on a shared (PostgreSQL) store, else null.
    std::unique_ptr<queue::status_relay> status_relay_;
    std::unique_ptr<job_release> release_;  // null when publishing or the fair queue is off
    std::unique_ptr<lifecycle_sweeper> sweeper_;
    std::unique_ptr<operator_api> operator_api_;
    ingest_gate gate_;
    std::unique_ptr<services> services_;
    std::unique_ptr<api> api_;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    // The webhook dispatcher's own contexts (webhooks.threads), run by threads at webhooks.nice
    // below the io threads; empty when webhooks.enabled is false.
    std::vector<std::unique_ptr<boost::asio::io_context>> webhook_contexts_;
    // Sends webhook deliveries on the contexts above (declared after them: it goes first, while
    // they still exist). Null when webhooks.enabled is false.
    std::unique_ptr<webhooks::webhook_dispatcher> dispatcher_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
};

}  // namespace jobsd::server

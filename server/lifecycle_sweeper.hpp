// The lifecycle sweep: every lifecycle.sweep_interval, one store transaction expires the QUEUED
// jobs still in the outbox past their deadline (their session streams hear EXPIRED) and puts the
// retries whose backoff is over back in the outbox (handed to the publisher at once); the same
// transaction records the expired jobs' webhook deliveries. Runs as a
// coroutine on io thread 0; the store does the work on its own threads.
// Thread safety: run() once, on one executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>

#include "queue/publisher.hpp"
#include "server/lifecycle_config.hpp"
#include "server/metrics.hpp"
#include "server/notification_hub.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class lifecycle_sweeper {
  public:
    // `publisher` may be null (publishing off: released retries wait in the outbox). `expired`
    // (may be empty) runs after a sweep that expired jobs: the webhook dispatcher's wake-up.
    lifecycle_sweeper(const lifecycle_options& options, store::store& store, notification_hub& hub,
                      metrics& counters, queue::publisher* publisher, std::function<void()> expired = {})
        : options_(options),
          store_(store),
          hub_(hub),
          counters_(counters),
          publisher_(publisher),
          expired_(std::move(expired)) {}

    // Sweeps until `stopping` is set (checked after each wait).
    boost::asio::awaitable<void> run(boost::asio::io_context& ctx, const std::atomic<bool>& stopping);

  private:
    boost::asio::awaitable<void> sweep_once();

    const lifecycle_options& options_;
    store::store& store_;
    notification_hub& hub_;
    metrics& counters_;
    queue::publisher* publisher_;
    std::function<void()> expired_;
};

}  // namespace jobsd::server

// The lifecycle sweep: every lifecycle.sweep_interval, one store transaction expires the QUEUED
// jobs still in the outbox past their deadline (their session streams hear EXPIRED) and puts the
// retries whose backoff is over back in the outbox (handed to the publisher at once); the same
// transaction records the expired jobs' webhook deliveries. While a sweep leaves QUEUED jobs
// lifecycle.unconsumed_expiry_after past their deadline (the store's probe), the next one, at most
// every half of that, reads the broker's queues first and expires the published jobs of each type
// whose queue has no consumer (store::sweep_request::unconsumed). Runs as a coroutine on io thread 0; the
// store does the work on its own threads. Thread safety: run() once, on one executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "queue/publisher.hpp"
#include "server/lifecycle_config.hpp"
#include "server/metrics.hpp"
#include "server/notification_hub.hpp"
#include "server/queue_view.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class lifecycle_sweeper {
  public:
    using view_result = boost::system::result<queue_view, std::string>;
    using queue_reader = std::function<boost::asio::awaitable<view_result>()>;

    // `publisher` may be null (publishing off: released retries wait in the outbox). `expired`
    // (may be empty) runs after a sweep that expired jobs: the webhook dispatcher's wake-up.
    // `read_queues` (empty when publishing is off) reads the broker's queues.
    lifecycle_sweeper(const lifecycle_options& options, store::store& store, notification_hub& hub,
                      metrics& counters, queue::publisher* publisher, std::function<void()> expired = {},
                      queue_reader read_queues = {})
        : options_(options),
          store_(store),
          hub_(hub),
          counters_(counters),
          publisher_(publisher),
          expired_(std::move(expired)),
          read_queues_(std::move(read_queues)) {}

    // Sweeps until `stopping` is set (checked after each wait).
    boost::asio::awaitable<void> run(boost::asio::io_context& ctx, const std::atomic<bool>& stopping);

  private:
    boost::asio::awaitable<void> sweep_once();
    // The request of this sweep: with the probe for overdue jobs, and the types no worker
    // consumes when the last sweep found some, the queues are due for a look and the broker answers.
    boost::asio::awaitable<store::sweep_request> next_request();

    const lifecycle_options& options_;
    store::store& store_;
    notification_hub& hub_;
    metrics& counters_;
    queue::publisher* publisher_;
    std::function<void()> expired_;
    queue_reader read_queues_;
    std::chrono::steady_clock::time_point next_look_{};
    bool overdue_ = false;  // the last sweep left a QUEUED job that long past its deadline
};

}  // namespace jobsd::server

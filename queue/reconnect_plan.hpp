// Which broker URL to try next and how long to wait after a failure: the URL order
// (amqp.url_order) and the exponential backoff of the AMQP session, with no I/O.
// Thread safety: none; owned by the session's thread.
#pragma once

#include <chrono>
#include <cstddef>

#include "queue/amqp_options.hpp"

namespace jobsd::queue {

class reconnect_plan {
  public:
    // `random_start` is where a spread order starts (taken modulo url_count; the session passes
    // a random number); in_order ignores it and starts at 0. url_count must not be 0.
    reconnect_plan(std::size_t url_count, amqp_url_order order, std::size_t random_start,
                   std::chrono::milliseconds backoff_min, std::chrono::milliseconds backoff_max);

    // Index of the URL to try now.
    std::size_t url() const noexcept { return url_; }

    // An attempt failed or a connection was lost: moves on to the next URL and returns how long
    // to wait before trying it; the wait doubles from backoff_min to backoff_max.
    std::chrono::milliseconds failed() noexcept;

    // A connection is up: the next failure waits backoff_min again.
    void connected() noexcept { backoff_ = min_; }

  private:
    const std::size_t count_;
    const std::chrono::milliseconds min_;
    const std::chrono::milliseconds max_;
    std::size_t url_;
    std::chrono::milliseconds backoff_;
};

}  // namespace jobsd::queue

// The URL index rotates on every failure, whether the attempt or an established connection failed.
#include "queue/reconnect_plan.hpp"

#include <algorithm>

namespace jobsd::queue {

reconnect_plan::reconnect_plan(std::size_t url_count, amqp_url_order order, std::size_t random_start,
                               std::chrono::milliseconds backoff_min, std::chrono::milliseconds backoff_max)
    : count_(std::max<std::size_t>(url_count, 1)),
      min_(backoff_min),
      max_(std::max(backoff_min, backoff_max)),
      url_(order == amqp_url_order::spread ? random_start % count_ : 0),
      backoff_(backoff_min) {}

std::chrono::milliseconds reconnect_plan::failed() noexcept {
    url_ = (url_ + 1) % count_;
    const auto wait = backoff_;
    backoff_ = std::min(backoff_ * 2, max_);
    return wait;
}

}  // namespace jobsd::queue

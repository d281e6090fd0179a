// The decision table of Standard Webhooks' "Delivery success and failure": 2xx success, 410 stop,
// anything else (3xx included: redirects are not followed) a failure to retry.
#include "server/webhooks/retry_policy.hpp"

#include <algorithm>
#include <charconv>

namespace jobsd::server::webhooks {

retry_decision retry_policy::decide(int attempt, std::optional<int> status,
                                    std::optional<std::chrono::seconds> retry_after, double unit) const {
    using store::delivery_outcome;
    if (status && *status >= 200 && *status < 300) return {delivery_outcome::delivered, {}};
    if (status && *status == 410) return {delivery_outcome::gone, {}};
    const auto index = static_cast<std::size_t>(std::max(attempt, 1) - 1);
    if (index >= schedule_.size()) return {delivery_outcome::failed, {}};
    const double factor = 1.0 + jitter_ * (2.0 * std::clamp(unit, 0.0, 1.0) - 1.0);
    auto delay = std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(schedule_[index].count()) * std::max(factor, 0.0)));
    if (retry_after)
        delay =
            std::max<std::chrono::milliseconds>(delay, std::min(*retry_after, std::chrono::seconds(86'400)));
    return {delivery_outcome::retry, delay};
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    std::int64_t s = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
    if (ec != std::errc{} || end != value.data() + value.size() || s < 0) return std::nullopt;
    return std::chrono::seconds(s);
}

}  // namespace jobsd::server::webhooks

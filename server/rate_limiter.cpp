// Refill on demand: tokens grow with the time since the last take, capped at the burst.
#include "server/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace jobsd::server {

rate_decision token_bucket::take(clock::time_point now, double tokens) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
        tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
        last_ = now;
    }
    rate_decision d;
    d.limit = static_cast<std::uint64_t>(burst_);
    if (tokens_ >= tokens) {
        tokens_ -= tokens;
        d.allowed = true;
    } else {
        d.allowed = false;
        d.retry_after_s = static_cast<std::uint64_t>(std::ceil((tokens - tokens_) / rate_));
        if (d.retry_after_s == 0) d.retry_after_s = 1;
    }
    d.remaining = static_cast<std::uint64_t>(std::floor(tokens_));
    d.reset_s = static_cast<std::uint64_t>(std::ceil((burst_ - tokens_) / rate_));
    return d;
}

rate_decision rate_limiter::take(const std::string& account_id, token_bucket::clock::time_point now,
                                 double tokens) {
    auto& s = shards_[std::hash<std::string>{}(account_id) % shards_.size()];
    std::lock_guard lock(s.mu);
    auto it = s.buckets.find(account_id);
    if (it == s.buckets.end()) it = s.buckets.emplace(account_id, token_bucket(rate_, burst_, now)).first;
    return it->second.take(now, tokens);
}

}  // namespace jobsd::server

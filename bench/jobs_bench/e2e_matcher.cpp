// Deliveries that arrive before their accept are parked in the same map; foreign() counts only
// those still unmatched, so it is meaningful once every accept has been fed.
#include "bench/jobs_bench/e2e_matcher.hpp"

#include <algorithm>

namespace jobsd::bench {

void e2e_matcher::settle(entry& e) {
    if (e.accepted_ns < 0 || e.delivered_ns < 0) return;
    ++delivered_;
    last_delivery_ns_ = std::max(last_delivery_ns_, e.delivered_ns);
    const auto latency =
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, e.delivered_ns - e.accepted_ns));
    latency_.record(latency);
    by_second_.record(
        static_cast<std::size_t>(std::max<std::int64_t>(0, e.delivered_ns - origin_ns_) / 1'000'000'000),
        latency);
}

void e2e_matcher::accept(std::string_view uuid, std::int64_t accepted_ns) {
    auto& e = jobs_[std::string(uuid)];
    if (e.accepted_ns >= 0) return;
    e.accepted_ns = accepted_ns;
    ++accepted_;
    if (e.deliveries > 0) --foreign_;
    settle(e);
}

void e2e_matcher::deliver(std::string_view uuid, std::int64_t delivered_ns) {
    auto& e = jobs_[std::string(uuid)];
    if (++e.deliveries > 1) {
        ++duplicates_;
        return;
    }
    e.delivered_ns = delivered_ns;
    if (e.accepted_ns < 0) {
        ++foreign_;
        return;
    }
    settle(e);
}

}  // namespace jobsd::bench

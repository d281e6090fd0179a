#include "worker/ack_plan.hpp"

#include <algorithm>
#include <limits>

namespace jobsd::worker {

ack_plan plan_acks(std::span<const std::uint64_t> unsettled, std::vector<std::uint64_t> to_ack) {
    ack_plan plan;
    if (to_ack.empty()) return plan;
    std::sort(to_ack.begin(), to_ack.end());
    to_ack.erase(std::unique(to_ack.begin(), to_ack.end()), to_ack.end());
    // The oldest delivery that stays unsettled: a multiple ack must stop below it.
    std::uint64_t kept = std::numeric_limits<std::uint64_t>::max();
    for (const std::uint64_t tag : unsettled)
        if (tag < kept && !std::binary_search(to_ack.begin(), to_ack.end(), tag)) kept = tag;
    const auto first_single = std::lower_bound(to_ack.begin(), to_ack.end(), kept);
    if (first_single != to_ack.begin()) plan.up_to = *std::prev(first_single);
    plan.singles.assign(first_single, to_ack.end());
    return plan;
}

}  // namespace jobsd::worker

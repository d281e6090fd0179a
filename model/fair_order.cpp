// Start-time fair queueing tags (model/fair_order.hpp).
#include "model/fair_order.hpp"

#include <algorithm>

#include "model/priority.hpp"

namespace jobsd::model {

double fair_order::next_tag(const std::string& account, int priority) {
    std::string flow = account;
    flow += '\n';
    flow += std::to_string(priority);
    auto [it, added] = last_.try_emplace(std::move(flow), now_);
    it->second = std::max(it->second, now_) + 1.0 / priority_weight(priority);
    return it->second;
}

void fair_order::released(double tag) noexcept {
    now_ = std::max(now_, tag);
}

void fair_order::prune() {
    std::erase_if(last_, [this](const auto& flow) { return flow.second <= now_; });
}

}  // namespace jobsd::model

// Lazy eviction: the order queue may name a uuid whose entry was refreshed since; such a stale
// place is dropped without touching the entry.
#include "worker/cancel_memory.hpp"

#include <algorithm>

namespace jobsd::worker {

void cancel_memory::remember(const std::string& uuid, int attempt, clock::time_point now) {
    prune(now);
    auto& e = by_uuid_[uuid];
    e.attempt = std::max(e.attempt, attempt);
    e.at = now;
    order_.emplace_back(now, uuid);
    prune(now);
}

bool cancel_memory::cancelled(const std::string& uuid, int attempt, clock::time_point now) {
    prune(now);
    const auto it = by_uuid_.find(uuid);
    return it != by_uuid_.end() && attempt <= it->second.attempt;
}

void cancel_memory::prune(clock::time_point now) {
    while (!order_.empty()) {
        const auto& [at, uuid] = order_.front();
        const auto it = by_uuid_.find(uuid);
        const bool stale = it == by_uuid_.end() || it->second.at != at;
        if (!stale && by_uuid_.size() <= max_entries_ && now - at < max_age_) return;
        if (!stale) by_uuid_.erase(it);
        order_.pop_front();
    }
}

}  // namespace jobsd::worker

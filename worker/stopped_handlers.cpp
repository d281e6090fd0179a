// Entries live until their handler returns, so a handler that never returns is reported once.
#include "worker/stopped_handlers.hpp"

#include <algorithm>

namespace jobsd::worker {

void stopped_handlers::stopped(std::uint64_t id, std::string uuid, clock::time_point now) {
    handlers_[id] = {std::move(uuid), now, false};
}

bool stopped_handlers::returned(std::uint64_t id) {
    const auto it = handlers_.find(id);
    if (it == handlers_.end()) return false;
    const bool reported = it->second.reported;
    handlers_.erase(it);
    return reported;
}

std::vector<std::string> stopped_handlers::abandoned(clock::time_point now) {
    std::vector<std::string> out;
    for (auto& [id, h] : handlers_)
        if (!h.reported && now >= h.asked + abandon_after) {
            h.reported = true;
            out.push_back(h.uuid);
        }
    return out;
}

stopped_handlers::clock::time_point stopped_handlers::next_deadline() const {
    auto at = clock::time_point::max();
    for (const auto& [id, h] : handlers_)
        if (!h.reported) at = std::min(at, h.asked + abandon_after);
    return at;
}

std::string stopped_handlers::uuid(std::uint64_t id) const {
    const auto it = handlers_.find(id);
    return it == handlers_.end() ? std::string() : it->second.uuid;
}

}  // namespace jobsd::worker

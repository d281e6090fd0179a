// A type's entry stays after its pause ends (the next failure doubles from there) until one of
// its messages is confirmed.
#include "queue/type_pauses.hpp"

#include <algorithm>

namespace jobsd::queue {

bool type_pauses::failed(const std::string& type, clock::time_point now) {
    state& s = types_[type];
    if (s.active) return false;
    const auto first = std::max(options_.first, std::chrono::milliseconds(1));
    s.length = s.length.count() == 0 ? first : std::min(s.length * 2, std::max(options_.max, first));
    s.until = now + s.length;
    s.active = true;
    return true;
}

void type_pauses::confirmed(const std::string& type) {
    const auto it = types_.find(type);
    if (it != types_.end() && !it->second.active) types_.erase(it);
}

bool type_pauses::paused(const std::string& type) const {
    const auto it = types_.find(type);
    return it != types_.end() && it->second.active;
}

std::vector<std::string> type_pauses::release(clock::time_point now) {
    std::vector<std::string> resumed;
    for (auto& [type, s] : types_)
        if (s.active && s.until <= now) {
            s.active = false;
            resumed.push_back(type);
        }
    return resumed;
}

type_pauses::clock::time_point type_pauses::next_deadline() const noexcept {
    auto at = clock::time_point::max();
    for (const auto& [type, s] : types_)
        if (s.active) at = std::min(at, s.until);
    return at;
}

std::vector<std::string> type_pauses::paused_types() const {
    std::vector<std::string> out;
    for (const auto& [type, s] : types_)
        if (s.active) out.push_back(type);
    return out;
}

std::chrono::milliseconds type_pauses::length(const std::string& type) const {
    const auto it = types_.find(type);
    return it == types_.end() ? std::chrono::milliseconds(0) : it->second.length;
}

}  // namespace jobsd::queue

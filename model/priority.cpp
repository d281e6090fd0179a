// The priority levels and their weights (model/priority.hpp).
#include "model/priority.hpp"

#include <cmath>

namespace jobsd::model {

std::optional<int> parse_priority(const boost::json::value& v) {
    if (const auto* s = v.if_string()) {
        if (*s == "low") return lowest_priority;
        if (*s == "normal") return normal_priority;
        if (*s == "high") return highest_priority;
        return std::nullopt;
    }
    if (!v.is_number()) return std::nullopt;
    const double d = v.to_number<double>();
    if (d < lowest_priority || d > highest_priority || d != std::trunc(d)) return std::nullopt;
    return static_cast<int>(d);
}

double priority_weight(int priority) noexcept {
    if (priority < lowest_priority || priority > highest_priority) priority = normal_priority;
    return static_cast<double>(1 << (priority - lowest_priority));
}

}  // namespace jobsd::model

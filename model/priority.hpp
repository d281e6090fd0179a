// A job's priority: a level from 1 (lowest) to 5 (highest), named low (1), normal (3) and high
// (5); each level up doubles a job's share of its type's workers while jobs wait (weight 2^(p-1)).
#pragma once

#include <optional>
#include <string_view>

#include <boost/json/value.hpp>

namespace jobsd::model {

inline constexpr int lowest_priority = 1;
inline constexpr int normal_priority = 3;
inline constexpr int highest_priority = 5;

// "low", "normal", "high", or a whole number from 1 to 5; nullopt for anything else.
std::optional<int> parse_priority(const boost::json::value& v);

// The share weight of a level (1, 2, 4, 8, 16); a level out of range counts as normal.
double priority_weight(int priority) noexcept;

}  // namespace jobsd::model

// The life cycle of a job and the rule that it only ever moves forward.
// QUEUED < STARTED < IN_PROGRESS < SUCCESS | FAILED; the two terminal states are final.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace jobsd::model {

enum class job_status { queued, started, in_progress, success, failed };

inline constexpr std::array<job_status, 5> all_job_statuses = {job_status::queued, job_status::started,
                                                               job_status::in_progress, job_status::success,
                                                               job_status::failed};

std::string_view to_string(job_status s) noexcept;
std::optional<job_status> parse_job_status(std::string_view s) noexcept;

constexpr bool is_terminal(job_status s) noexcept {
    return s == job_status::success || s == job_status::failed;
}

// True when an event carrying `to` may be applied to a job in state `from`. Repeating
// IN_PROGRESS is allowed (progress updates); every other repeat or step back is not.
constexpr bool can_advance(job_status from, job_status to) noexcept {
    if (is_terminal(from)) return false;
    if (from == job_status::in_progress && to == job_status::in_progress) return true;
    return static_cast<int>(to) > static_cast<int>(from);
}

}  // namespace jobsd::model

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

// True when an event carrying `to` may be applied to a job in state `from`, by status alone.
// Repeating IN_PROGRESS passes here (a progress update; moves_forward decides on its value);
// every other repeat or step back does not.
constexpr bool can_advance(job_status from, job_status to) noexcept {
    if (is_terminal(from)) return false;
    if (from == job_status::in_progress && to == job_status::in_progress) return true;
    return static_cast<int>(to) > static_cast<int>(from);
}

// True when the event (`to`, `to_progress`) moves a job in `from` (`from_progress`) forward: a
// later status, or within IN_PROGRESS a higher progress. A late 50 % after 80 %, a repeat of the
// same value, or a progress update without a value does not, so progress never decreases
// within a status whatever order events arrive in.
constexpr bool moves_forward(job_status from, std::optional<int> from_progress, job_status to,
                             std::optional<int> to_progress) noexcept {
    if (!can_advance(from, to)) return false;
    if (from != job_status::in_progress || to != job_status::in_progress) return true;
    // Progress is 0..100, so "none yet" compares as -1.
    return to_progress.has_value() && to_progress.value_or(0) > from_progress.value_or(-1);
}

}  // namespace jobsd::model

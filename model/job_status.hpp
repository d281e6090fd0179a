// The life cycle of a job and the rule that it only ever moves forward within an attempt:
// QUEUED < STARTED < IN_PROGRESS < SUCCESS | FAILED | CANCELLED | EXPIRED (terminal, final).
// Only a new attempt (an explicit or automatic retry, an operator's requeue) starts over at
// QUEUED. The statuses are one table (job_status_table): names, order and terminality live there.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace jobsd::model {

enum class job_status { queued, started, in_progress, success, failed, cancelled, expired };

// One row per status. `rank` orders them (all terminal statuses share the last rank).
struct job_status_info {
    job_status status;
    std::string_view name;  // the wire name
    int rank;
    bool terminal;
};

// clang-format off
inline constexpr std::array<job_status_info, 7> job_status_table{{
    {job_status::queued,      "QUEUED",      0, false},
    {job_status::started,     "STARTED",     1, false},
    {job_status::in_progress, "IN_PROGRESS", 2, false},
    {job_status::success,     "SUCCESS",     3, true},
    {job_status::failed,      "FAILED",      3, true},
    {job_status::cancelled,   "CANCELLED",   3, true},
    {job_status::expired,     "EXPIRED",     3, true},
}};
// clang-format on

inline constexpr std::array<job_status, job_status_table.size()> all_job_statuses = [] {
    std::array<job_status, job_status_table.size()> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = job_status_table[i].status;
    return out;
}();

constexpr const job_status_info& info(job_status s) noexcept {
    return job_status_table[static_cast<std::size_t>(s)];
}
static_assert(
    [] {
        for (std::size_t i = 0; i < job_status_table.size(); ++i)
            if (static_cast<std::size_t>(job_status_table[i].status) != i) return false;
        return true;
    }(),
    "job_status_table is indexed by the enum's value");

std::string_view to_string(job_status s) noexcept;
std::optional<job_status> parse_job_status(std::string_view s) noexcept;

constexpr bool is_terminal(job_status s) noexcept {
    return info(s).terminal;
}

// True when an event carrying `to` may be applied to a job in state `from` (of the same
// attempt), by status alone. Repeating IN_PROGRESS passes here (a progress update; moves_forward
// decides on its value); every other repeat or step back does not, and nothing follows a
// terminal status.
constexpr bool can_advance(job_status from, job_status to) noexcept {
    if (is_terminal(from)) return false;
    if (from == job_status::in_progress && to == job_status::in_progress) return true;
    return info(to).rank > info(from).rank;
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

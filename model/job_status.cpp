// Wire names of job statuses, read from the status table.
#include "model/job_status.hpp"

namespace jobsd::model {

std::string_view to_string(job_status s) noexcept {
    const auto i = static_cast<std::size_t>(s);
    return i < job_status_table.size() ? job_status_table[i].name : std::string_view("UNKNOWN");
}

std::optional<job_status> parse_job_status(std::string_view s) noexcept {
    for (const auto& row : job_status_table)
        if (row.name == s) return row.status;
    return std::nullopt;
}

}  // namespace jobsd::model

// Wire names of job statuses.
#include "model/job_status.hpp"

#include <array>

namespace jobsd::model {

std::string_view to_string(job_status s) noexcept {
    switch (s) {
        case job_status::queued:
            return "QUEUED";
        case job_status::started:
            return "STARTED";
        case job_status::in_progress:
            return "IN_PROGRESS";
        case job_status::success:
            return "SUCCESS";
        case job_status::failed:
            return "FAILED";
    }
    return "UNKNOWN";
}

std::optional<job_status> parse_job_status(std::string_view s) noexcept {
    for (auto st : all_job_statuses)
        if (to_string(st) == s) return st;
    return std::nullopt;
}

}  // namespace jobsd::model

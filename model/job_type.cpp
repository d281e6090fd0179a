// Wire names of job types.
#include "model/job_type.hpp"

namespace jobsd::model {

std::string_view to_string(job_type t) noexcept {
    switch (t) {
        case job_type::ai_talking_video:
            return "ai_talking_video";
        case job_type::video:
            return "video";
        case job_type::tts:
            return "tts";
        case job_type::image:
            return "image";
        case job_type::photo_qc:
            return "photo_qc";
        case job_type::pdf:
            return "pdf";
        case job_type::ai_image_generation:
            return "ai_image_generation";
    }
    return "unknown";
}

std::optional<job_type> parse_job_type(std::string_view s) noexcept {
    for (auto t : all_job_types)
        if (to_string(t) == s) return t;
    return std::nullopt;
}

}  // namespace jobsd::model

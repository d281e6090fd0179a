// The seven workflows a job can belong to, and their wire names.
// Each job type has its own queue and worker fleet downstream.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace jobsd::model {

enum class job_type { ai_talking_video, video, tts, image, photo_qc, pdf, ai_image_generation };

inline constexpr std::array<job_type, 7> all_job_types = {job_type::ai_talking_video,
                                                          job_type::video,
                                                          job_type::tts,
                                                          job_type::image,
                                                          job_type::photo_qc,
                                                          job_type::pdf,
                                                          job_type::ai_image_generation};

std::string_view to_string(job_type t) noexcept;
std::optional<job_type> parse_job_type(std::string_view s) noexcept;

// Video workflows accept the top-level background music fields.
constexpr bool is_video_workflow(job_type t) noexcept {
    return t == job_type::video || t == job_type::ai_talking_video;
}

}  // namespace jobsd::model

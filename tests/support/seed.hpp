// The ids and keys of tests/data/seed_test.json, which every black-box jobsd of the tests loads.
// The file is the source of truth; these names only save each test from spelling them again.
#pragma once

#include <array>
#include <string_view>

namespace jobsd::test::seed {

inline constexpr std::string_view account_a = "acc_a";
inline constexpr std::string_view account_b = "acc_b";
inline constexpr std::string_view key_a = "key-a-5d1c8e7f2b9a4c6e";  // account A's API key
inline constexpr std::string_view key_b = "key-b-9e4a2f6c1d7b3e8a";  // account B's API key
inline constexpr std::string_view operator_key = "op-key-8f2c4a6e1b9d7c3e";

// Account A's projects.
inline constexpr std::string_view project_a1 = "468ea7a0-66e1-4357-a760-236e54167f3e";  // talking video
inline constexpr std::string_view project_a2 = "f639d65c-c495-4b57-89cf-59ff161cec05";  // video, no name
inline constexpr std::string_view project_a_expired = "24afe9a3-8795-4410-b0ab-44d9ffb67fb7";
inline constexpr std::string_view project_a_future = "05edee09-38bf-41be-81c7-1bc99898f618";
inline constexpr std::string_view project_a_bounded = "c0485a29-e456-4218-90ac-80d50b4220ac";  // 2020..2098
inline constexpr std::string_view prompt_a = "f12f3401-0fd6-4a30-82d1-b85a8db70e5b";           // image prompt

// Account B's.
inline constexpr std::string_view project_b1 = "e3a90df2-f2cc-4494-bdba-0b85651452a1";
inline constexpr std::string_view prompt_b = "67b0cd03-05a2-499b-80a0-52a29b98a2c4";

// Every job type, in the order of conf/jobsd.json's amqp.job_types.
inline constexpr std::array<std::string_view, 7> job_types = {
    "ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation"};

}  // namespace jobsd::test::seed

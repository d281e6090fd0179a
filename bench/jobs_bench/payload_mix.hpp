// The weighted mix of job bodies jobs-bench POSTs, loaded from a conf/bench/*.json file.
// Sans-I/O apart from load(): parsing, validation against the API's shapes and weighted picks.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jobsd::bench {

// The seven job types of the API, in the order reports list them.
inline constexpr std::string_view job_types[] = {
    "ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation"};
bool is_job_type(std::string_view s) noexcept;

// The placeholder a fresh session id overwrites in place: same length as the ids written.
inline constexpr std::string_view session_placeholder = "bench-0000000000000000";

struct payload_variant {
    std::string job_type;
    double weight = 0;
    boost::json::object body;  // the request body as the file gives it (plus overrides)
};

// What may be overridden from the command line; empty means "as the file says".
struct payload_overrides {
    std::string template_id;  // replaces template_id in every body that has one
    std::string prompt_id;    // replaces project_id of ai_image_generation bodies
    std::string webhook;      // set as every body's `webhook` (its terminal events are sent there)
};

// File format (comments allowed):
//   {"api_key": "...", "fresh_session_id": true,
//    "jobs": [{"weight": 3, "body": {"job_type": "video", ...}}, ...]}
// Thread safety: immutable after construction; pick() may be called from any thread.
class payload_mix {
  public:
    // Parses and validates; throws std::runtime_error naming `source` and what is wrong
    // (not JSON, missing jobs, a non-positive weight, a body the API would reject).
    static payload_mix parse(std::string_view text, std::string_view source);
    // Reads `path` (at most 1 MiB) and parses it.
    static payload_mix load(const std::string& path);

    void apply(const payload_overrides& o);

    const std::vector<payload_variant>& variants() const noexcept { return variants_; }
    const std::string& api_key() const noexcept { return api_key_; }
    bool fresh_session_id() const noexcept { return fresh_session_id_; }

    // The body text of variant `i`, with session_placeholder as its session_id when
    // fresh_session_id() is set.
    std::string body_text(std::size_t i) const;

    // Index of the variant for a uniformly random 64-bit `draw`, in proportion to the weights.
    std::size_t pick(std::uint64_t draw) const noexcept;

  private:
    std::vector<payload_variant> variants_;
    std::vector<double> cumulative_;  // normalised to end at 1.0
    std::string api_key_ = "demo-key-7c1f4e2a9b3d";
    bool fresh_session_id_ = true;
};

// Why `body` would not be accepted by POST /jobs/v2 as API.md describes it (types, ranges,
// value shapes), or "" when it would. Project resolution is the server's business, not checked.
std::string check_body_shape(const boost::json::object& body);

// splitmix64: a fast, good-enough generator for picking variants; one per connection.
struct fast_rng {
    std::uint64_t state;
    std::uint64_t next() noexcept {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

}  // namespace jobsd::bench

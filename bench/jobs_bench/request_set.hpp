// The prebuilt HTTP/1.1 request bytes of one scenario, built once before the run.
// Sans-I/O: the load client only copies these bytes and stamps a session id into them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/jobs_bench/payload_mix.hpp"

namespace jobsd::bench {

struct prebuilt_request {
    std::string bytes;                               // the whole request: line, headers, body
    std::size_t session_offset = std::string::npos;  // where the 16 hex digits of the session id go
};

// Thread safety: immutable after construction; shared by every connection.
class request_set {
  public:
    // POST `target` with each variant of `mix` as the body, with `api_key` (the scenario's key:
    // the mix's own, or a deliberately invalid one for the rejection path).
    static request_set posts(const payload_mix& mix, std::string_view host, std::string_view target,
                             std::string_view api_key);
    // GET /jobs/<uuid> for each uuid, equally weighted.
    static request_set gets(const std::vector<std::string>& uuids, std::string_view host,
                            std::string_view api_key);

    const std::vector<prebuilt_request>& requests() const noexcept { return requests_; }
    // Index of the request for a uniformly random `draw`, by the mix's weights (uniform for GETs).
    std::size_t pick(std::uint64_t draw) const noexcept;

  private:
    std::vector<prebuilt_request> requests_;
    const payload_mix* mix_ = nullptr;  // for weighted picks; null means uniform
};

// Writes `id` as 16 lowercase hex digits at `at` (the session id's digits).
void stamp_session(char* at, std::uint64_t id) noexcept;

// "POST <target> HTTP/1.1" with Host, x-api-key, Content-Type and Content-Length.
std::string build_post(std::string_view host, std::string_view target, std::string_view api_key,
                       std::string_view body);
std::string build_get(std::string_view host, std::string_view target, std::string_view api_key);

}  // namespace jobsd::bench

// Body bytes are consumed whole (the return value tells basic_parser so) and only the prefix is
// copied.
#include "bench/jobs_bench/response_parser.hpp"

#include <algorithm>
#include <cstring>

namespace jobsd::bench {

std::size_t response_parser::keep(string_view body) noexcept {
    const std::size_t room = prefix_.size() - prefix_size_;
    const std::size_t n = std::min(room, body.size());
    if (n) std::memcpy(prefix_.data() + prefix_size_, body.data(), n);
    prefix_size_ += n;
    body_size_ += body.size();
    return body.size();
}

}  // namespace jobsd::bench

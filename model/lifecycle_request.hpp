// The bodies of POST /jobs/:id/cancel and POST /jobs/:id/retry: both optional. Cancel takes
// an empty body or an empty object; retry takes an empty body or {"expires_in_s": N} (a new time
// to live for the next attempt). Anything else is refused with a clear 400. Pure code; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "model/create_request.hpp"

namespace jobsd::model {

struct retry_request {
    std::optional<std::int64_t> expires_in_s;  // nullopt: the job keeps its own time to live
};

// nullopt when the body is acceptable.
std::optional<request_error> check_cancel_request(std::string_view body);

std::variant<retry_request, request_error> parse_retry_request(std::string_view body,
                                                               const create_limits& limits = {});

}  // namespace jobsd::model

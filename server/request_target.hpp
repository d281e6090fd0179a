// The four request-target forms of RFC 9112 §3.2, told apart before routing: the origin form
// routes as it is; the absolute form routes by its path once its authority agrees with Host; the
// asterisk and authority forms have no route here. Pure code over strings; no I/O.
#pragma once

#include <string_view>

namespace jobsd::server {

struct request_target {
    enum class form { origin, absolute, asterisk, authority, invalid };
    form kind = form::invalid;
    std::string_view origin;     // origin and absolute forms: "/path?query" (a view into the target)
    std::string_view authority;  // absolute and authority forms: "host[:port]"
};

request_target parse_request_target(std::string_view target);

// Whether an absolute-form authority names the same host and port as the Host header (host
// case-insensitively; a missing port is the scheme's default only when both leave it out).
bool same_authority(std::string_view authority, std::string_view host) noexcept;

}  // namespace jobsd::server

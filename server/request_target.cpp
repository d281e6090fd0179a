// Only `http` and `https` absolute URIs are taken (any letter case); userinfo in the authority is
// refused, since no identity may travel there.
#include "server/request_target.hpp"

#include <cctype>

namespace jobsd::server {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// "scheme://" with scheme http or https; the rest of the target, or npos.
std::size_t after_scheme(std::string_view target) noexcept {
    const auto sep = target.find("://");
    if (sep == std::string_view::npos) return sep;
    const auto scheme = target.substr(0, sep);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return std::string_view::npos;
    return sep + 3;
}

bool valid_authority(std::string_view a) noexcept {
    if (a.empty() || a.find('@') != std::string_view::npos) return false;
    for (char c : a)
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#') return false;
    return true;
}

}  // namespace

request_target parse_request_target(std::string_view target) {
    request_target t;
    if (target.starts_with('/')) {
        t.kind = request_target::form::origin;
        t.origin = target;
    } else if (target == "*") {
        t.kind = request_target::form::asterisk;
    } else if (const auto rest = after_scheme(target); rest != std::string_view::npos) {
        auto tail = target.substr(rest);
        const auto path = tail.find_first_of("/?");
        t.authority = tail.substr(0, path);
        if (!valid_authority(t.authority)) return {};
        t.kind = request_target::form::absolute;
        // "http://host" and "http://host?q" have an empty path: the origin form is then "/".
        t.origin =
            path == std::string_view::npos || tail[path] == '?' ? std::string_view("/") : tail.substr(path);
    } else if (valid_authority(target) && target.find(':') != std::string_view::npos) {
        t.kind = request_target::form::authority;
        t.authority = target;
    }
    return t;
}

bool same_authority(std::string_view authority, std::string_view host) noexcept {
    return !host.empty() && iequals(authority, host);
}

}  // namespace jobsd::server

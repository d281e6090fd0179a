#include "server/header_lookup.hpp"

#include <boost/beast/core/string.hpp>

namespace jobsd::server {

namespace http = boost::beast::http;

std::string_view header_value(const http::fields& h, http::field f) noexcept {
    for (const auto& e : h)
        if (e.name() == f) return e.value();
    return {};
}

std::string_view header_value(const http::fields& h, std::string_view name) noexcept {
    for (const auto& e : h)
        if (boost::beast::iequals(e.name_string(), name)) return e.value();
    return {};
}

std::size_t header_count(const http::fields& h, std::string_view name) noexcept {
    std::size_t n = 0;
    for (const auto& e : h)
        if (boost::beast::iequals(e.name_string(), name)) ++n;
    return n;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace jobsd::server

// The parser has already checked Content-Length's digits (server/http_framing.cpp refuses the
// ambiguous cases), so it is read here without re-validation.
#include "server/body_checks.hpp"

#include <boost/beast/core/string.hpp>

#include <cstdint>
#include <string>

#include "server/header_lookup.hpp"

namespace jobsd::server {

std::string_view charset_of(std::string_view content_type) {
    auto rest = content_type;
    for (auto semi = rest.find(';'); semi != std::string_view::npos; semi = rest.find(';')) {
        rest = rest.substr(semi + 1);
        const auto param = trim_ows(rest.substr(0, rest.find(';')));
        const auto eq = param.find('=');
        if (eq == std::string_view::npos || !boost::beast::iequals(trim_ows(param.substr(0, eq)), "charset"))
            continue;
        auto value = trim_ows(param.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        return value;
    }
    return {};
}

bool is_json_content_type(std::string_view value) {
    const auto semi = value.find(';');
    auto media = value.substr(0, semi);
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
    return boost::beast::iequals(media, "application/json");
}

std::optional<response> check_json_body(const http::request_header<>& header, std::size_t limit) {
    const auto content_type = header_value(header, http::field::content_type);
    if (!is_json_content_type(content_type))
        return message_response(http::status::unsupported_media_type,
                                "Content-Type must be application/json");
    if (const auto charset = charset_of(content_type);
        !charset.empty() && !boost::beast::iequals(charset, "utf-8"))
        return message_response(http::status::unsupported_media_type,
                                "Unsupported charset " + std::string(charset) +
                                    ": the body must be UTF-8 (charset=utf-8, or no charset)");
    const auto length = header_value(header, http::field::content_length);
    if (!length.empty()) {
        std::uint64_t n = 0;
        for (char c : length) n = n * 10 + static_cast<unsigned>(c - '0');
        if (n > limit) return message_response(http::status::payload_too_large, "Request body too large");
    }
    return std::nullopt;
}

}  // namespace jobsd::server

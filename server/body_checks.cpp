// The parser has already checked Content-Length's digits (server/http_framing.cpp refuses the
// ambiguous cases), so it is read here without re-validation.
#include "server/body_checks.hpp"

#include <cctype>
#include <cstdint>

namespace jobsd::server {

bool is_json_content_type(std::string_view value) {
    const auto semi = value.find(';');
    auto media = value.substr(0, semi);
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
    constexpr std::string_view expected = "application/json";
    if (media.size() != expected.size()) return false;
    for (std::size_t i = 0; i < media.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(media[i])) != expected[i]) return false;
    return true;
}

std::optional<response> check_json_body(const http::request_header<>& header, std::size_t limit) {
    if (!is_json_content_type(header[http::field::content_type]))
        return message_response(http::status::unsupported_media_type,
                                "Content-Type must be application/json");
    const auto length = header[http::field::content_length];
    if (!length.empty()) {
        std::uint64_t n = 0;
        for (char c : length) n = n * 10 + static_cast<unsigned>(c - '0');
        if (n > limit) return message_response(http::status::payload_too_large, "Request body too large");
    }
    return std::nullopt;
}

}  // namespace jobsd::server

// Time on the wire: milliseconds since the Unix epoch inside, ISO-8601 UTC strings outside.
// Pure functions; `now_ms` is the only one that reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobsd::model {

std::int64_t now_ms() noexcept;

// "2026-04-16T12:03:02.000Z"
std::string format_iso8601(std::int64_t ms_since_epoch);

// Accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS", optional ".fff" fraction and an optional
// "Z" or "+HH:MM"/"-HH:MM" offset (no offset means UTC). Anything else is nullopt.
std::optional<std::int64_t> parse_iso8601(std::string_view text) noexcept;

}  // namespace jobsd::model

// Job identifiers: RFC 9562 version-7 UUIDs (time-ordered, so new rows append to the index).
// Thread safety: new_uuid() may be called from any thread; each thread has its own generator.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace jobsd::model {

std::string new_uuid();

// True for the canonical 8-4-4-4-12 hex form (any version, either case).
bool is_uuid(std::string_view s) noexcept;

// `s` as jobsd writes uuids (lower-case hex), or nullopt when it is not a uuid (is_uuid). A client
// may send an id in upper case (RFC 9562 reads either); the store compares text.
std::optional<std::string> canonical_uuid(std::string_view s);

}  // namespace jobsd::model

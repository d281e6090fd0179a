// API keys are never stored: only their SHA-256, hex-encoded, is kept and compared.
#pragma once

#include <string>
#include <string_view>

namespace jobsd::model {

// Lower-case hex SHA-256 of any bytes.
std::string sha256_hex(std::string_view bytes);

// Lower-case hex SHA-256 of the key as sent in `x-api-key`.
std::string hash_api_key(std::string_view key);

// The first characters of a key, kept beside the hash so an operator can tell keys apart.
std::string key_prefix(std::string_view key);

}  // namespace jobsd::model

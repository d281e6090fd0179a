// API keys: generated from a CSPRNG with a visible public prefix; never stored, only their
// SHA-256 (hex) is kept and looked up, next to the visible prefix that tells keys apart.
#pragma once

#include <string>
#include <string_view>

namespace jobsd::model {

// Who a generated key is for; each kind has its own visible tag, so a key pasted in the wrong
// place is recognisable at a glance (the tables are separate anyway: see sqlite_schema.cpp).
enum class key_kind { customer, operator_key };

// Lower-case hex SHA-256 of any bytes.
std::string sha256_hex(std::string_view bytes);

// Lower-case hex SHA-256 of the key as sent in `x-api-key`.
std::string hash_api_key(std::string_view key);

// A new key: "<tag>_<public id>_<secret>", e.g. "jk_4fqz7m2a_…" ("jk" customer, "jo" operator).
// The public id is 8 base32 characters (40 random bits) and only tells keys apart; the secret is
// 32 base32 characters (160 bits) from OpenSSL's RAND_bytes. Alphabet: a-z and 2-7 (RFC 4648,
// lower case), so a key survives URLs, shells and double-click selection. Throws
// std::runtime_error when the CSPRNG cannot deliver (never a weaker fallback).
std::string generate_api_key(key_kind kind);

// The visible part kept beside the hash so an operator can tell keys apart: "<tag>_<public id>"
// for generated keys, the first 8 characters for any other key (seeded demo keys).
std::string key_prefix(std::string_view key);

}  // namespace jobsd::model

// The Standard Webhooks signature scheme (symmetric, "v1"): secrets written "whsec_" + base64,
// signatures "v1," + base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>". OpenSSL's
// HMAC, base64 and CSPRNG; nothing hand-written. Pure apart from the random bytes of new ids.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace jobsd::model {

// A new signing secret: "whsec_" + base64 of 24 bytes from RAND_bytes (192 bits, the spec's
// minimum). Throws std::runtime_error when the CSPRNG cannot deliver (never a weaker fallback).
std::string new_webhook_secret();

// A new endpoint id: "ep_" + 24 lower-case hex characters (96 random bits).
std::string new_webhook_endpoint_id();

// The HMAC key of a "whsec_…" secret (the base64 part decoded), or nullopt when it is not one.
std::optional<std::string> webhook_secret_key(std::string_view secret);

// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" with `secret` ("whsec_…").
// Throws std::invalid_argument when the secret is not a whsec_ secret.
std::string webhook_signature(std::string_view id, std::int64_t timestamp_s, std::string_view body,
                              std::string_view secret);

// The webhook-signature header: one signature per secret, space-separated, in the order given
// (current first, then a previous one during a rotation).
std::string webhook_signature_header(std::string_view id, std::int64_t timestamp_s, std::string_view body,
                                     std::span<const std::string> secrets);

// RFC 4648 base64 (with padding), and its inverse (nullopt for text that is not base64).
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace jobsd::model

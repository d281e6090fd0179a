// HMAC through OpenSSL's one-shot HMAC(), base64 through EVP_EncodeBlock/EVP_DecodeBlock, random
// bytes from RAND_bytes.
#include "model/webhook_signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>
#include <string>

namespace jobsd::model {

namespace {

constexpr std::string_view secret_prefix = "whsec_";
constexpr std::size_t secret_bytes = 24;

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
    std::array<unsigned char, N> out{};
    if (RAND_bytes(out.data(), static_cast<int>(N)) != 1)
        throw std::runtime_error("the random number generator failed; no secret was made");
    return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    std::string out(3 * (text.size() / 4), '\0');
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as decoded zero bytes; drop them.
    std::size_t size = static_cast<std::size_t>(n);
    if (text.ends_with("=="))
        size -= 2;
    else if (text.ends_with("="))
        size -= 1;
    out.resize(size);
    return out;
}

std::string new_webhook_secret() {
    const auto bytes = random_bytes<secret_bytes>();
    return std::string(secret_prefix) +
           base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string new_webhook_endpoint_id() {
    static constexpr char hex[] = "0123456789abcdef";
    const auto bytes = random_bytes<12>();
    std::string id = "ep_";
    for (unsigned char b : bytes) {
        id += hex[b >> 4];
        id += hex[b & 15];
    }
    return id;
}

std::optional<std::string> webhook_secret_key(std::string_view secret) {
    if (!secret.starts_with(secret_prefix)) return std::nullopt;
    return base64_decode(secret.substr(secret_prefix.size()));
}

std::string webhook_signature(std::string_view id, std::int64_t timestamp_s, std::string_view body,
                              std::string_view secret) {
    const auto key = webhook_secret_key(secret);
    if (!key || key->empty()) throw std::invalid_argument("not a whsec_ webhook secret");
    std::string content;
    content.reserve(id.size() + body.size() + 24);
    content.append(id).append(".").append(std::to_string(timestamp_s)).append(".").append(body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
              reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &len))
        throw std::runtime_error("HMAC-SHA256 failed");
    return "v1," + base64_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string webhook_signature_header(std::string_view id, std::int64_t timestamp_s, std::string_view body,
                                     std::span<const std::string> secrets) {
    std::string header;
    for (const auto& s : secrets) {
        if (!header.empty()) header += ' ';
        header += webhook_signature(id, timestamp_s, body, s);
    }
    return header;
}

}  // namespace jobsd::model

// HMAC through OpenSSL's EVP_MAC, base64 through EVP_EncodeBlock/EVP_DecodeBlock, random bytes from
// RAND_bytes.
#include "model/webhook_signature.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <memory>
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

namespace {

struct mac_ctx_free {
    void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};

// An HMAC-SHA256 context of this thread: the MAC and its digest are looked up once (the one-shot
// HMAC() of OpenSSL 3 fetches both and allocates a context at every call); each signature only
// sets its key. Null when OpenSSL has no HMAC or SHA-256.
EVP_MAC_CTX* hmac_sha256_ctx() {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    thread_local const std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> ctx = [] {
        std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> c(mac ? EVP_MAC_CTX_new(mac) : nullptr);
        char digest[] = "SHA256";
        const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                     OSSL_PARAM_construct_end()};
        if (c && EVP_MAC_CTX_set_params(c.get(), params) != 1) c.reset();
        return c;
    }();
    return ctx.get();
}

bool mac_update(EVP_MAC_CTX* ctx, std::string_view part) {
    return EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) == 1;
}

}  // namespace

std::string webhook_signature(std::string_view id, std::int64_t timestamp_s, std::string_view body,
                              std::string_view secret) {
    const auto key = webhook_secret_key(secret);
    if (!key || key->empty()) throw std::invalid_argument("not a whsec_ webhook secret");
    const std::string timestamp = std::to_string(timestamp_s);
    EVP_MAC_CTX* ctx = hmac_sha256_ctx();
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    // The signed content is "id.timestamp.body", fed in parts rather than copied together.
    if (!ctx ||
        EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key->data()), key->size(), nullptr) != 1 ||
        !mac_update(ctx, id) || !mac_update(ctx, ".") || !mac_update(ctx, timestamp) ||
        !mac_update(ctx, ".") || !mac_update(ctx, body) || EVP_MAC_final(ctx, mac, &len, sizeof mac) != 1)
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

// SHA-256 through OpenSSL's EVP digest; key material from OpenSSL's RAND_bytes.
#include "model/api_key.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <memory>
#include <stdexcept>

namespace jobsd::model {

namespace {

constexpr std::string_view base32_alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::size_t public_id_chars = 8;  // 40 bits: tells keys apart, not a secret
constexpr std::size_t secret_chars = 32;    // 160 bits of secret

// `chars` base32 characters from fresh CSPRNG bytes, 5 bits each.
std::string random_base32(std::size_t chars) {
    std::array<unsigned char, 64> bytes{};
    const std::size_t n = (chars * 5 + 7) / 8;
    if (n > bytes.size() || RAND_bytes(bytes.data(), static_cast<int>(n)) != 1)
        throw std::runtime_error("the random number generator failed; no key was made");
    std::string out;
    out.reserve(chars);
    for (std::size_t i = 0; i < chars; ++i) {
        unsigned v = 0;
        for (std::size_t b = 0; b < 5; ++b) {
            const std::size_t bit = i * 5 + b;
            v = (v << 1) | ((bytes[bit / 8] >> (7 - bit % 8)) & 1u);
        }
        out += base32_alphabet[v];
    }
    return out;
}

std::string_view tag_of(key_kind kind) {
    return kind == key_kind::operator_key ? "jo" : "jk";
}

bool is_base32(std::string_view s) {
    return s.find_first_not_of(base32_alphabet) == std::string_view::npos;
}

// Every request's key is hashed. EVP_sha256() in a digest call makes OpenSSL 3 look the
// implementation up again (EVP_MD_fetch) and the one-shot call allocates a context: fetched once
// for the process, and one context per thread, reset by each init.
const EVP_MD* sha256_md() {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

struct md_ctx_free {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

}  // namespace

std::string hash_api_key(std::string_view key) {
    return sha256_hex(key);
}

std::string sha256_hex(std::string_view key) {
    thread_local const std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx || !sha256_md() || EVP_DigestInit_ex2(ctx.get(), sha256_md(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), key.data(), key.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), md, &len) != 1)
        throw std::runtime_error("SHA-256 digest failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(len * 2, '\0');
    for (unsigned int i = 0; i < len; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    return out;
}

std::string generate_api_key(key_kind kind) {
    std::string key(tag_of(kind));
    key += '_';
    key += random_base32(public_id_chars);
    key += '_';
    key += random_base32(secret_chars);
    return key;
}

std::string key_prefix(std::string_view key) {
    // "jk_" or "jo_", 8 public characters, then "_": the generated shape.
    constexpr std::size_t visible = 3 + public_id_chars;
    if (key.size() > visible && (key.starts_with("jk_") || key.starts_with("jo_")) && key[visible] == '_' &&
        is_base32(key.substr(3, public_id_chars)))
        return std::string(key.substr(0, visible));
    return std::string(key.substr(0, 8));
}

}  // namespace jobsd::model

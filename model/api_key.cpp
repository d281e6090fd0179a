// SHA-256 through OpenSSL's EVP one-shot digest.
#include "model/api_key.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace jobsd::model {

std::string hash_api_key(std::string_view key) { return sha256_hex(key); }

std::string sha256_hex(std::string_view key) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(key.data(), key.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 digest failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(len * 2, '\0');
    for (unsigned int i = 0; i < len; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    return out;
}

std::string key_prefix(std::string_view key) { return std::string(key.substr(0, 8)); }

}  // namespace jobsd::model

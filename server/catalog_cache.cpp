// Key check: hash what was sent, look the hash up; the plain key is never kept.
#include "server/catalog_cache.hpp"

#include "model/api_key.hpp"

namespace jobsd::server {

namespace {
// Keys longer than this are not keys; refuse them before hashing attacker-sized input.
constexpr std::size_t max_key_length = 256;
}  // namespace

// Timing: no secret is ever compared with what was sent. The key is hashed (SHA-256) and the
// digest looked up in a hash map. The lookup's time may depend on how the guess's digest relates
// to stored digests, but a client cannot steer its digest towards a stored one (preimage
// resistance), and even a stored digest learnt outright would not give the key (160 random bits).
// A byte-by-byte timing attack has nothing to work on. A direct comparison of secrets, were one
// ever needed, would use CRYPTO_memcmp.
std::optional<std::string> catalog_cache::authenticate(const model::catalog& cat,
                                                       std::string_view key) const {
    if (key.empty() || key.size() > max_key_length) return std::nullopt;
    auto it = cat.account_by_key_hash.find(model::hash_api_key(key));
    if (it == cat.account_by_key_hash.end()) return std::nullopt;
    return it->second;
}

bool catalog_cache::authenticate_operator(const model::catalog& cat, std::string_view key) const {
    if (key.empty() || key.size() > max_key_length) return false;
    return cat.operator_key_hashes.contains(model::hash_api_key(key));
}

}  // namespace jobsd::server

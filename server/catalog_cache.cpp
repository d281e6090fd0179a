// Key check: hash what was sent, look the hash up; the plain key is never kept.
#include "server/catalog_cache.hpp"

#include "model/api_key.hpp"

namespace jobsd::server {

namespace {
// Keys longer than this are not keys; refuse them before hashing attacker-sized input.
constexpr std::size_t max_key_length = 256;
}  // namespace

std::optional<std::string> catalog_cache::authenticate(const model::catalog& cat, std::string_view key) const {
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

// The in-memory view of accounts, key hashes, projects and image prompts that every request is
// checked against, so authentication and project resolution never query the store.
// Thread safety: readers take a snapshot (an atomic shared_ptr load); replace() swaps in a
// new one; a snapshot stays valid for as long as the reader holds it.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "model/catalog.hpp"

namespace jobsd::server {

class catalog_cache {
  public:
    using snapshot = std::shared_ptr<const model::catalog>;

    catalog_cache() : current_(std::make_shared<const model::catalog>()) {}

    snapshot get() const { return current_.load(std::memory_order_acquire); }
    void replace(snapshot next) { current_.store(std::move(next), std::memory_order_release); }

    // The account a key belongs to, or nullopt for a missing, unknown or revoked key.
    std::optional<std::string> authenticate(const model::catalog& cat, std::string_view key) const;

    // True for a live operator key (a customer key never is one).
    bool authenticate_operator(const model::catalog& cat, std::string_view key) const;

  private:
    std::atomic<snapshot> current_;
};

}  // namespace jobsd::server

// Picks the store adapter named by the configured URL, and hands it the shared settings and
// its own.
#pragma once

#include <memory>
#include <string>

#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"
#include "store/store_options.hpp"

namespace jobsd::store {

// The `store` section of the configuration.
struct store_config {
    // "sqlite:PATH" for the embedded store (the default, a file under var/), or
    // "postgres://…" / "postgresql://…" for a PostgreSQL database several jobsd may share.
    std::string url = "sqlite:var/jobsd.db";
    // What every adapter reads: batch size, queue bounds, idempotency window.
    store_options common;
    // The SQLite adapter's own; its `path` is taken from the URL.
    sqlite_options sqlite;
    // The PostgreSQL adapter's own; its `url` is taken from the URL above.
    pg_options pg;

    // A store several jobsd may share (PostgreSQL).
    bool shared() const noexcept {
        return url.starts_with("postgres://") || url.starts_with("postgresql://");
    }
};

// Throws std::invalid_argument for a URL no adapter takes, and the adapter's error when it
// cannot open the store.
std::unique_ptr<store> open_store(const store_config& config);

}  // namespace jobsd::store

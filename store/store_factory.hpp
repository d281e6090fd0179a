// Picks the store adapter named by the configured URL.
#pragma once

#include <memory>
#include <string>

#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"

namespace jobsd::store {

struct store_options {
    // "sqlite:PATH" for the embedded store (the default, a file under var/), or
    // "postgres://…" / "postgresql://…" for a PostgreSQL database several jobsd may share.
    std::string url = "sqlite:var/jobsd.db";
    // Used by the SQLite adapter; its `path` is taken from the URL. Its batch_max, queue bounds
    // and idempotency_window serve the PostgreSQL adapter too.
    sqlite_options sqlite;
    // Used by the PostgreSQL adapter; its `url` is taken from the URL above, and the shared
    // fields from `sqlite`.
    pg_options pg;
};

// Throws std::invalid_argument for a URL no adapter takes, and the adapter's error when it
// cannot open the store.
std::unique_ptr<store> open_store(const store_options& options);

}  // namespace jobsd::store

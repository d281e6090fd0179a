// Picks the store adapter named by the configured URL.
#pragma once

#include <memory>
#include <string>

#include "store/sqlite_store.hpp"
#include "store/store.hpp"

namespace jobsd::store {

struct store_options {
    // "sqlite:PATH" for the embedded store (the default, a file under var/).
    std::string url = "sqlite:var/jobsd.db";
    // Used by the SQLite adapter; its `path` is taken from the URL.
    sqlite_options sqlite;
};

// Throws std::invalid_argument for a URL no adapter takes, and the adapter's error when it
// cannot open the store.
std::unique_ptr<store> open_store(const store_options& options);

}  // namespace jobsd::store

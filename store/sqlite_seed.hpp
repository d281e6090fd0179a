// Writing a seed (accounts, keys, projects, image prompts, operator keys) into the SQLite file:
// upserts, so that applying it again changes nothing.
// Thread safety: none; runs on the thread that owns `db` (the store's writer, at startup).
#pragma once

#include "store/seed.hpp"
#include "store/sqlite_db.hpp"

namespace jobsd::store {

// Runs inside the caller's open transaction. Throws sqlite_error naming the row that failed.
void write_sqlite_seed(sqlite_db& db, const seed_data& seed);

}  // namespace jobsd::store

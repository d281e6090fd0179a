// The SQLite schema and its migrations, versioned with PRAGMA user_version.
#pragma once

#include "store/sqlite_db.hpp"

namespace jobsd::store {

// Brings the database to the newest schema inside one transaction; a database from a newer
// jobsd is refused. Safe to run on every start.
void migrate_sqlite(sqlite_db& db);

}  // namespace jobsd::store

// The SQLite schema and its migrations, versioned with PRAGMA user_version.
#pragma once

#include "store/sqlite_db.hpp"

namespace jobsd::store {

// Brings the database to the newest schema inside one transaction; a database from a newer
// jobsd is refused. Safe to run on every start.
void migrate_sqlite(sqlite_db& db);

// The same, stopping at `version` (1 to sqlite_schema_version()): a database as an earlier jobsd
// left it, for the upgrade tests.
void migrate_sqlite_to(sqlite_db& db, int version);

// The schema version this jobsd writes (PRAGMA user_version).
int sqlite_schema_version();

}  // namespace jobsd::store

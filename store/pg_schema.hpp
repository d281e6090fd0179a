// PostgreSQL schema migrations: the logical schema of the SQLite store (same tables and
// columns, versioned the same way) plus what several instances sharing it need.
#pragma once

#include <libpq-fe.h>

namespace jobsd::store {

// Applies the missing steps in one transaction under an advisory lock, so instances starting
// together migrate once and the others wait, then see the result. Blocking: startup only.
// Throws pg_error on failure, or when the database is newer than this jobsd.
void migrate_pg(PGconn* conn);

// The same, stopping at `version` (1 to pg_schema_version()): a database as an earlier jobsd left
// it, for the upgrade tests.
void migrate_pg_to(PGconn* conn, int version);

// The schema version this jobsd writes.
int pg_schema_version();

}  // namespace jobsd::store

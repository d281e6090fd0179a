// Writing a seed (accounts, keys, projects, image prompts, operator keys) into PostgreSQL:
// upserts, so that applying it again, or from a second instance, changes nothing.
#pragma once

#include <libpq-fe.h>

#include "store/seed.hpp"

namespace jobsd::store {

// One transaction on a blocking connection (startup only). Throws pg_error naming the row.
void write_pg_seed(PGconn* conn, const seed_data& seed);

}  // namespace jobsd::store

// Migration steps, oldest first. Never edit a released step: append a new one. Steps 1-3 are
// SQLite's steps in PostgreSQL's types; step 4 is the outbox claim for several instances, step 5
// SQLite's step 4, step 6 SQLite's step 5.
#include "store/pg_schema.hpp"

#include <array>
#include <string>
#include <string_view>

#include "store/pg_connection.hpp"
#include "store/webhook_schema.hpp"

namespace jobsd::store {

namespace {

constexpr std::array<std::string_view, 6> migrations = {
    // 1: accounts, keys, projects, image prompts, jobs with the outbox flag.
    R"sql(
CREATE TABLE accounts (
  id          text PRIMARY KEY,
  name        text NOT NULL DEFAULT '',
  created_ms  bigint NOT NULL
);
CREATE TABLE api_keys (
  key_hash    text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts(id),
  prefix      text NOT NULL,
  created_ms  bigint NOT NULL,
  revoked_ms  bigint
);
CREATE TABLE projects (
  id              text PRIMARY KEY,
  account_id      text NOT NULL REFERENCES accounts(id),
  name            text NOT NULL DEFAULT '',
  type            text NOT NULL DEFAULT '',
  start_ms        bigint,
  end_ms          bigint,
  mapping_fields  text NOT NULL DEFAULT '{}'
);
CREATE TABLE image_prompts (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts(id),
  name        text NOT NULL DEFAULT '',
  prompt      text NOT NULL DEFAULT ''
);
CREATE TABLE jobs (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
  uuid        text NOT NULL UNIQUE,
  account_id  text NOT NULL,
  source_id   text NOT NULL,
  job_type    text NOT NULL,
  job_status  text NOT NULL,
  session_id  text NOT NULL DEFAULT '',
  version     double precision,
  input       text NOT NULL,
  progress    integer,
  output      text,
  error       text,
  created_ms  bigint NOT NULL,
  updated_ms  bigint NOT NULL,
  published   boolean NOT NULL DEFAULT false
);
CREATE INDEX jobs_unpublished ON jobs (seq) WHERE NOT published;
)sql",
    // 2: idempotent create: a client's Idempotency-Key and a hash of the body it came with.
    R"sql(
ALTER TABLE jobs ADD COLUMN idempotency_key text;
ALTER TABLE jobs ADD COLUMN request_hash text;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
)sql",
    // 3: operator keys, a table of their own.
    R"sql(
CREATE TABLE operator_keys (
  key_hash    text PRIMARY KEY,
  prefix      text NOT NULL,
  name        text NOT NULL DEFAULT '',
  created_ms  bigint NOT NULL,
  revoked_ms  bigint
);
)sql",
    // 4: the outbox claim: which instance publishes an unpublished job, and until when. Another
    // instance takes the job over once claimed_until has passed (its claimer died or is stuck).
    R"sql(
ALTER TABLE jobs ADD COLUMN claimed_by text;
ALTER TABLE jobs ADD COLUMN claimed_until timestamptz;
)sql",
    // 5: listing an account's jobs newest first (by session too), batches, and projects that check
    // job values against their mapping fields.
    R"sql(
ALTER TABLE jobs ADD COLUMN batch_id text;
CREATE INDEX jobs_account_created ON jobs (account_id, created_ms, uuid);
CREATE INDEX jobs_account_session ON jobs (account_id, session_id, created_ms, uuid);
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
ALTER TABLE projects ADD COLUMN strict_values boolean NOT NULL DEFAULT false;
)sql",
    // 6: webhooks, as SQLite's step 5 (store/webhook_schema.hpp).
    pg_webhooks_step,
};

// Any constant both instances agree on: "jobsd" in ASCII.
constexpr std::string_view lock_sql = "SELECT pg_advisory_xact_lock(431231431012)";

std::string error_of(PGconn* conn, PGresult* r) {
    std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return msg;
}

// Runs `sql` (possibly several statements) on a blocking connection; throws on failure.
pg_reply run(PGconn* conn, std::string_view sql, std::string_view what) {
    pg_reply r(PQexec(conn, std::string(sql).c_str()));
    if (!r.ok()) throw pg_error("postgres: " + std::string(what) + ": " + error_of(conn, r.get()));
    return r;
}

}  // namespace

int pg_schema_version() {
    return static_cast<int>(migrations.size());
}

void migrate_pg(PGconn* conn) {
    run(conn, "BEGIN", "migration");
    try {
        run(conn, lock_sql, "taking the migration lock");
        run(conn, "CREATE TABLE IF NOT EXISTS jobsd_schema (version integer NOT NULL)", "migration");
        auto r =
            run(conn, "SELECT coalesce(max(version), 0) FROM jobsd_schema", "reading the schema version");
        const auto version = r.int64(0, 0);
        if (version > static_cast<std::int64_t>(migrations.size()))
            throw pg_error("postgres: database schema version " + std::to_string(version) +
                           " is newer than this jobsd knows (" + std::to_string(migrations.size()) + ")");
        for (auto v = static_cast<std::size_t>(version); v < migrations.size(); ++v)
            run(conn, migrations[v], "migration step " + std::to_string(v + 1));
        if (static_cast<std::size_t>(version) < migrations.size()) {
            run(conn, "DELETE FROM jobsd_schema", "migration");
            run(conn, "INSERT INTO jobsd_schema (version) VALUES (" + std::to_string(migrations.size()) + ")",
                "migration");
        }
        run(conn, "COMMIT", "committing the migration");
    } catch (...) {
        PQclear(PQexec(conn, "ROLLBACK"));
        throw;
    }
}

}  // namespace jobsd::store

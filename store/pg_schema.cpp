// Migration steps, oldest first. Never edit a released step: append a new one. Steps 1-3 are
// SQLite's steps in PostgreSQL's types; step 4 is the outbox claim for several instances; step 5
// is SQLite's step 4 (webhooks).
#include "store/pg_schema.hpp"

#include <array>
#include <string>
#include <string_view>

#include "store/pg_connection.hpp"

namespace jobsd::store {

namespace {

constexpr std::array<std::string_view, 5> migrations = {
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
    // 5: webhooks, as SQLite's step 4; claims are shared between instances as the outbox's are.
    R"sql(
CREATE TABLE webhook_endpoints (
  id               text PRIMARY KEY,
  account_id       text NOT NULL,
  url              text NOT NULL,
  events           integer NOT NULL,
  enabled          boolean NOT NULL DEFAULT true,
  disabled_reason  text,
  created_ms       bigint NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);
CREATE TABLE webhook_secrets (
  owner              text PRIMARY KEY,
  secret             text NOT NULL,
  previous_secret    text,
  previous_until_ms  bigint,
  rotated_ms         bigint NOT NULL
);
CREATE TABLE job_webhooks (
  job_uuid  text PRIMARY KEY,
  url       text NOT NULL,
  dest      text NOT NULL,
  events    integer NOT NULL
);
CREATE TABLE webhook_deliveries (
  seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id             text NOT NULL UNIQUE,
  account_id     text NOT NULL,
  endpoint_id    text,
  secret_owner   text NOT NULL,
  url            text NOT NULL,
  dest           text NOT NULL,
  job_uuid       text NOT NULL,
  event          text NOT NULL,
  event_ms       bigint NOT NULL,
  status         text NOT NULL DEFAULT 'pending',
  attempts       integer NOT NULL DEFAULT 0,
  next_ms        bigint NOT NULL,
  last_code      integer,
  last_error     text,
  created_ms     bigint NOT NULL,
  done_ms        bigint,
  claimed_by     text,
  claimed_until  bigint
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (account_id, endpoint_id, seq);
CREATE TABLE webhook_attempts (
  delivery_id  text NOT NULL,
  attempt      integer NOT NULL,
  at_ms        bigint NOT NULL,
  status_code  integer,
  latency_ms   bigint NOT NULL,
  error        text,
  PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_recent ON webhook_attempts (at_ms);
)sql",
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

// Migration steps, oldest first. Never edit a released step: append a new one.
#include "store/sqlite_schema.hpp"

#include <array>
#include <string_view>

namespace jobsd::store {

namespace {

constexpr std::array<std::string_view, 4> migrations = {
    // 1: accounts, keys, projects, image prompts, jobs with the outbox flag.
    R"sql(
CREATE TABLE accounts (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL DEFAULT '',
  created_ms  INTEGER NOT NULL
);
CREATE TABLE api_keys (
  key_hash    TEXT PRIMARY KEY,
  account_id  TEXT NOT NULL REFERENCES accounts(id),
  prefix      TEXT NOT NULL,
  created_ms  INTEGER NOT NULL,
  revoked_ms  INTEGER
);
CREATE TABLE projects (
  id              TEXT PRIMARY KEY,
  account_id      TEXT NOT NULL REFERENCES accounts(id),
  name            TEXT NOT NULL DEFAULT '',
  type            TEXT NOT NULL DEFAULT '',
  start_ms        INTEGER,
  end_ms          INTEGER,
  mapping_fields  TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE image_prompts (
  id          TEXT PRIMARY KEY,
  account_id  TEXT NOT NULL REFERENCES accounts(id),
  name        TEXT NOT NULL DEFAULT '',
  prompt      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE jobs (
  seq         INTEGER PRIMARY KEY,  -- commit order (the rowid)
  uuid        TEXT NOT NULL UNIQUE,
  account_id  TEXT NOT NULL,
  source_id   TEXT NOT NULL,
  job_type    TEXT NOT NULL,
  job_status  TEXT NOT NULL,
  session_id  TEXT NOT NULL DEFAULT '',
  version     REAL,
  input       TEXT NOT NULL,
  progress    INTEGER,
  output      TEXT,
  error       TEXT,
  created_ms  INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL,
  published   INTEGER NOT NULL DEFAULT 0
);
-- The outbox: unpublished jobs in commit order (rowid), for the relay.
CREATE INDEX jobs_unpublished ON jobs (seq) WHERE published = 0;
)sql",
    // 2: idempotent create: a client's Idempotency-Key and a hash of the body it came with.
    R"sql(
ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
ALTER TABLE jobs ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
)sql",
    // 3: operator keys (queue view, dashboard): a table of their own, so that no customer key
    // can ever act as one.
    R"sql(
CREATE TABLE operator_keys (
  key_hash    TEXT PRIMARY KEY,
  prefix      TEXT NOT NULL,
  name        TEXT NOT NULL DEFAULT '',
  created_ms  INTEGER NOT NULL,
  revoked_ms  INTEGER
);
)sql",
    // 4: webhooks. Endpoints per account; signing secrets (an endpoint's, or an account's default
    // one for jobs that name their own URL), with the previous secret kept during a rotation; a
    // job's own URL; deliveries, written in the transaction of the status change that causes
    // them, with a claim (SQLite: one jobsd per file, so claims only keep a delivery from being
    // sent twice at once); and one row per attempt.
    R"sql(
CREATE TABLE webhook_endpoints (
  id               TEXT PRIMARY KEY,
  account_id       TEXT NOT NULL,
  url              TEXT NOT NULL,
  events           INTEGER NOT NULL,
  enabled          INTEGER NOT NULL DEFAULT 1,
  disabled_reason  TEXT,
  created_ms       INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);
CREATE TABLE webhook_secrets (
  owner              TEXT PRIMARY KEY,  -- an endpoint id, or 'account:' || account id
  secret             TEXT NOT NULL,
  previous_secret    TEXT,
  previous_until_ms  INTEGER,
  rotated_ms         INTEGER NOT NULL
);
CREATE TABLE job_webhooks (
  job_uuid  TEXT PRIMARY KEY,
  url       TEXT NOT NULL,
  dest      TEXT NOT NULL,
  events    INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
  seq            INTEGER PRIMARY KEY,
  id             TEXT NOT NULL UNIQUE,  -- webhook-id: the same for every attempt
  account_id     TEXT NOT NULL,
  endpoint_id    TEXT,                  -- NULL for a job's own URL
  secret_owner   TEXT NOT NULL,
  url            TEXT NOT NULL,
  dest           TEXT NOT NULL,         -- what per-endpoint concurrency counts by
  job_uuid       TEXT NOT NULL,
  event          TEXT NOT NULL,
  event_ms       INTEGER NOT NULL,
  status         TEXT NOT NULL DEFAULT 'pending',  -- pending, delivered, failed, cancelled
  attempts       INTEGER NOT NULL DEFAULT 0,
  next_ms        INTEGER NOT NULL,
  last_code      INTEGER,
  last_error     TEXT,
  created_ms     INTEGER NOT NULL,
  done_ms        INTEGER,
  claimed_by     TEXT,
  claimed_until  INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_ms) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (account_id, endpoint_id, seq);
CREATE TABLE webhook_attempts (
  delivery_id  TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  at_ms        INTEGER NOT NULL,
  status_code  INTEGER,
  latency_ms   INTEGER NOT NULL,
  error        TEXT,
  PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX webhook_attempts_recent ON webhook_attempts (at_ms);
)sql",
};

}  // namespace

void migrate_sqlite(sqlite_db& db) {
    db.exec("BEGIN IMMEDIATE");
    try {
        const auto version = db.query_int("PRAGMA user_version");
        if (version > static_cast<std::int64_t>(migrations.size()))
            throw sqlite_error("database schema version " + std::to_string(version) +
                                   " is newer than this jobsd knows (" + std::to_string(migrations.size()) +
                                   ")",
                               SQLITE_ERROR);
        for (auto v = static_cast<std::size_t>(version); v < migrations.size(); ++v) {
            db.exec(migrations[v]);
            db.exec("PRAGMA user_version = " + std::to_string(v + 1));
        }
        db.exec("COMMIT");
    } catch (...) {
        db.exec("ROLLBACK");
        throw;
    }
}

}  // namespace jobsd::store

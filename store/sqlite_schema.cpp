// Migration steps, oldest first. Never edit a released step: append a new one.
#include "store/sqlite_schema.hpp"

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>

#include "store/webhook_schema.hpp"

namespace jobsd::store {

namespace {

constexpr std::array<std::string_view, 11> migrations = {
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
    // 4: listing an account's jobs newest first (by session too), batches, and projects that check
    // job values against their mapping fields.
    R"sql(
ALTER TABLE jobs ADD COLUMN batch_id TEXT;
CREATE INDEX jobs_account_created ON jobs (account_id, created_ms, uuid);
CREATE INDEX jobs_account_session ON jobs (account_id, session_id, created_ms, uuid);
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
ALTER TABLE projects ADD COLUMN strict_values INTEGER NOT NULL DEFAULT 0;
)sql",
    // 5: the job's lifecycle (issue 16): attempts, time to live, cancel requests, retries waiting
    // for their backoff, priority and the fair queue, and the control outbox (cancel requests
    // waiting for the broker).
    R"sql(
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN expires_in_ms INTEGER;
ALTER TABLE jobs ADD COLUMN expires_at_ms INTEGER;
ALTER TABLE jobs ADD COLUMN cancel_requested_ms INTEGER;
ALTER TABLE jobs ADD COLUMN retry_at_ms INTEGER;
-- Priority (1 to 5) and, while the job is held in its type's fair queue, its place there: a held
-- job is out of the outbox (published = 1) until released.
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 3;
ALTER TABLE jobs ADD COLUMN fair_key REAL;
CREATE INDEX jobs_held ON jobs (job_type, fair_key) WHERE fair_key IS NOT NULL;
-- Jobs that may expire before they leave the outbox (or the fair queue).
CREATE INDEX jobs_expiring ON jobs (expires_at_ms)
  WHERE (published = 0 OR fair_key IS NOT NULL) AND expires_at_ms IS NOT NULL;
-- Retries waiting for their backoff.
CREATE INDEX jobs_retry_due ON jobs (retry_at_ms) WHERE retry_at_ms IS NOT NULL;
-- Running jobs by their last event, for the stuck-job view.
CREATE INDEX jobs_running ON jobs (updated_ms) WHERE job_status IN ('STARTED', 'IN_PROGRESS');
CREATE TABLE job_controls (
  seq         INTEGER PRIMARY KEY,
  uuid        TEXT NOT NULL,
  job_type    TEXT NOT NULL,
  kind        TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL
);
CREATE INDEX job_controls_uuid ON job_controls (uuid);
)sql",
    // 6: webhooks (store/webhook_schema.hpp).
    sqlite_webhooks_step,
    // 7: cheaper deliveries: a covering due index, a delivered attempt kept in its delivery's row.
    sqlite_webhook_costs_step,
    // 8: the job's W3C traceparent (issue 18), with jobsd's span as parent; NULL for older jobs.
    R"sql(
ALTER TABLE jobs ADD COLUMN traceparent TEXT;
)sql",
    // 9: a job's own webhook in its row, not in a table of its own (store/webhook_schema.hpp).
    sqlite_job_webhook_columns_step,
    // 10: the outbox as a table of its own (issue 20). A job waiting for the broker is a row of
    // `outbox` (its seq) instead of a flag in its own row, so the publisher's mark is the delete
    // of a small row, not a rewrite of the job's (its input, a page of the WAL per few jobs,
    // written again at each mark). A held job is in neither: fair_key set, not in the outbox.
    // Jobs that may expire are the queued ones with a deadline; the sweep checks which of them
    // wait in the outbox or the fair queue.
    R"sql(
CREATE TABLE outbox (seq INTEGER PRIMARY KEY);
INSERT INTO outbox (seq) SELECT seq FROM jobs WHERE published = 0;
DROP INDEX jobs_unpublished;
DROP INDEX jobs_expiring;
ALTER TABLE jobs DROP COLUMN published;
CREATE INDEX jobs_expiring ON jobs (expires_at_ms)
  WHERE expires_at_ms IS NOT NULL AND job_status = 'QUEUED';
)sql",
    // 11: a session's jobs indexed in batches behind the writer, not by every create
    // (store/sqlite_session_index.hpp): session_jobs has jobs_account_session's key, for the jobs
    // up to session_jobs_through's seq; the ones above it are read by seq.
    R"sql(
DROP INDEX jobs_account_session;
CREATE TABLE session_jobs (
  account_id  TEXT NOT NULL,
  session_id  TEXT NOT NULL,
  created_ms  INTEGER NOT NULL,
  uuid        TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  PRIMARY KEY (account_id, session_id, created_ms, uuid)
) WITHOUT ROWID;
CREATE TABLE session_jobs_through (seq INTEGER NOT NULL);
INSERT INTO session_jobs (account_id, session_id, created_ms, uuid, seq)
  SELECT account_id, session_id, created_ms, uuid, seq FROM jobs;
INSERT INTO session_jobs_through (seq) SELECT coalesce(max(seq), 0) FROM jobs;
)sql",
};

}  // namespace

int sqlite_schema_version() {
    return static_cast<int>(migrations.size());
}

void migrate_sqlite(sqlite_db& db) {
    migrate_sqlite_to(db, sqlite_schema_version());
}

void migrate_sqlite_to(sqlite_db& db, int target) {
    if (target < 1 || target > sqlite_schema_version())
        throw std::invalid_argument("no SQLite schema version " + std::to_string(target));
    db.exec("BEGIN IMMEDIATE");
    try {
        const auto version = db.query_int("PRAGMA user_version");
        if (version > static_cast<std::int64_t>(migrations.size()))
            throw sqlite_error("database schema version " + std::to_string(version) +
                                   " is newer than this jobsd knows (" + std::to_string(migrations.size()) +
                                   ")",
                               SQLITE_ERROR);
        for (auto v = static_cast<std::size_t>(version); v < static_cast<std::size_t>(target); ++v) {
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

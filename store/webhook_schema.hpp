// The webhooks migration step, one for each dialect, kept here whole so that it can take
// whichever step number is next in store/sqlite_schema.cpp and store/pg_schema.cpp.
#pragma once

#include <string_view>

namespace jobsd::store {

// SQLite: endpoints per account; signing secrets (an endpoint's, or an account's default one for
// jobs that name their own URL), with the previous secret kept during a rotation; a job's own URL;
// deliveries, written in the transaction of the status change that causes them, with a claim
// (SQLite: one jobsd per file, so claims only keep a delivery from being sent twice at once); and
// one row per attempt.
inline constexpr std::string_view sqlite_webhooks_step = R"sql(
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
)sql";

// SQLite, the step after: what a delivery costs the one writer (bench/RESULTS.md, issue 15). The
// due index covers the sweep for due deliveries in its order (seq is the rowid), so it reads no
// table page; and an attempt that delivers is kept in its delivery's row (delivered_latency_ms
// with done_ms, last_code, last_error) instead of a webhook_attempts row of its own, so the
// common case, one attempt that succeeds, costs one UPDATE. A redelivery moves it to
// webhook_attempts first.
inline constexpr std::string_view sqlite_webhook_costs_step = R"sql(
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_ms, seq, dest) WHERE status = 'pending';
ALTER TABLE webhook_deliveries ADD COLUMN delivered_latency_ms INTEGER;
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries (done_ms) WHERE delivered_latency_ms IS NOT NULL;
)sql";

// SQLite, a later step: a job's own webhook URL, its origin and its event filter move into the
// job's row. A row of its own in job_webhooks cost every create that names a URL one more b-tree
// insert at a random page (its uuid key), written to the WAL at commit, on the writer the creates
// share. The create rate did not measurably change (bench/RESULTS.md, issue 15); the step stays
// for the table, index and statement it removes.
inline constexpr std::string_view sqlite_job_webhook_columns_step = R"sql(
ALTER TABLE jobs ADD COLUMN webhook_url TEXT;
ALTER TABLE jobs ADD COLUMN webhook_dest TEXT;
ALTER TABLE jobs ADD COLUMN webhook_events INTEGER;
UPDATE jobs SET (webhook_url, webhook_dest, webhook_events) =
  (SELECT url, dest, events FROM job_webhooks w WHERE w.job_uuid = jobs.uuid)
  WHERE uuid IN (SELECT job_uuid FROM job_webhooks);
DROP TABLE job_webhooks;
)sql";

// PostgreSQL: the same tables in PostgreSQL's types; claims are shared between instances as the
// outbox's are (claimed_by, claimed_until, taken with FOR UPDATE SKIP LOCKED).
inline constexpr std::string_view pg_webhooks_step = R"sql(
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
)sql";

// PostgreSQL, the same later step: the job's own webhook in its row.
inline constexpr std::string_view pg_job_webhook_columns_step = R"sql(
ALTER TABLE jobs ADD COLUMN webhook_url text, ADD COLUMN webhook_dest text, ADD COLUMN webhook_events integer;
UPDATE jobs j SET webhook_url = w.url, webhook_dest = w.dest, webhook_events = w.events
  FROM job_webhooks w WHERE w.job_uuid = j.uuid;
DROP TABLE job_webhooks;
)sql";

}  // namespace jobsd::store

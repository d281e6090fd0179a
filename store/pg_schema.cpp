// Migration steps, oldest first. Never edit a released step: append a new one. Steps 1-3 are
// SQLite's steps in PostgreSQL's types; step 4 is the outbox claim for several instances; step 5
// is SQLite's step 4 (lists, batches, strict values); step 6 is SQLite's step 5 (the job's
// lifecycle) plus the functions that apply its rules on the row; step 7 is SQLite's step 6
// (webhooks; SQLite's step 7 is its own delivery costs); step 8 is SQLite's step 8 (traceparent);
// step 9 is SQLite's step 9 (a job's own webhook in its row); step 10 is jobsd_apply_event()
// with model::decide_event's overrule (a SUCCESS in place of a dead letter's FAILED), step 11 the
// same overrule of an EXPIRED, step 12 the error a SUCCESS clears, step 13 SQLite's step 10's
// index of every queued job with a deadline (PostgreSQL keeps its outbox flag).
#include "store/pg_schema.hpp"

#include <array>
#include <string>
#include <string_view>

#include "store/pg_connection.hpp"
#include "store/webhook_schema.hpp"

namespace jobsd::store {

namespace {

constexpr std::array<std::string_view, 13> migrations = {
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
    // 6: the job's lifecycle (issue 16), as SQLite's step 5, and three functions that decide on
    // the locked row, so that one round trip serves an event, a cancel or a retry.
    R"sql(
ALTER TABLE jobs ADD COLUMN attempt integer NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN expires_in_ms bigint;
ALTER TABLE jobs ADD COLUMN expires_at_ms bigint;
ALTER TABLE jobs ADD COLUMN cancel_requested_ms bigint;
ALTER TABLE jobs ADD COLUMN retry_at_ms bigint;
ALTER TABLE jobs ADD COLUMN priority integer NOT NULL DEFAULT 3;
ALTER TABLE jobs ADD COLUMN fair_key float8;
CREATE INDEX jobs_held ON jobs (job_type, fair_key) WHERE fair_key IS NOT NULL;
CREATE INDEX jobs_expiring ON jobs (expires_at_ms)
  WHERE (NOT published OR fair_key IS NOT NULL) AND expires_at_ms IS NOT NULL;
CREATE INDEX jobs_retry_due ON jobs (retry_at_ms) WHERE retry_at_ms IS NOT NULL;
CREATE INDEX jobs_running ON jobs (updated_ms) WHERE job_status IN ('STARTED', 'IN_PROGRESS');
CREATE TABLE job_controls (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  uuid        text NOT NULL,
  job_type    text NOT NULL,
  kind        text NOT NULL,
  attempt     integer NOT NULL,
  created_ms  bigint NOT NULL
);
CREATE INDEX job_controls_uuid ON job_controls (uuid);

-- model::job_status_table's ranks: QUEUED < STARTED < IN_PROGRESS < the terminal statuses.
CREATE FUNCTION jobsd_status_rank(s text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE s WHEN 'QUEUED' THEN 0 WHEN 'STARTED' THEN 1 WHEN 'IN_PROGRESS' THEN 2 ELSE 3 END
$$;

-- model::decide_event (model/lifecycle_policy.hpp) on the locked row. p_policy maps each job type
-- to {"max_attempts","backoff_ms","backoff_max_ms"}. One row when the job changed ('applied', or
-- 'retried' as the next attempt, due after its backoff), none when the event was ignored.
CREATE FUNCTION jobsd_apply_event(p_uuid text, p_status text, p_attempt integer, p_progress integer,
    p_output text, p_error text, p_retryable boolean, p_at bigint, p_now bigint, p_policy jsonb)
RETURNS TABLE (o_outcome text, o_account_id text, o_session_id text, o_job_type text, o_attempt integer)
LANGUAGE plpgsql AS $$
DECLARE
  j record;
  pol jsonb;
  due bigint;
BEGIN
  SELECT * INTO j FROM jobs WHERE uuid = p_uuid FOR UPDATE;
  IF NOT FOUND OR (p_attempt IS NOT NULL AND p_attempt <> j.attempt) THEN RETURN; END IF;
  IF p_status IN ('STARTED', 'IN_PROGRESS') AND (j.cancel_requested_ms IS NOT NULL OR j.job_status = 'CANCELLED')
     AND NOT EXISTS (SELECT 1 FROM job_controls WHERE uuid = p_uuid) THEN
    INSERT INTO job_controls (uuid, job_type, kind, attempt, created_ms)
      VALUES (p_uuid, j.job_type, 'cancel', j.attempt, p_now);
  END IF;
  IF jobsd_status_rank(j.job_status) = 3 THEN RETURN; END IF;
  IF NOT (jobsd_status_rank(p_status) > jobsd_status_rank(j.job_status)
          OR (j.job_status = 'IN_PROGRESS' AND p_status = 'IN_PROGRESS')) THEN RETURN; END IF;
  -- Within IN_PROGRESS only a higher progress moves forward (model::moves_forward).
  IF j.job_status = 'IN_PROGRESS' AND p_status = 'IN_PROGRESS'
     AND (p_progress IS NULL OR p_progress <= coalesce(j.progress, -1)) THEN RETURN; END IF;
  pol := p_policy -> j.job_type;
  IF p_status = 'FAILED' AND p_retryable AND j.cancel_requested_ms IS NULL AND pol IS NOT NULL
     AND j.attempt < (pol ->> 'max_attempts')::integer THEN
    due := p_now + least((pol ->> 'backoff_max_ms')::float8,
                         (pol ->> 'backoff_ms')::float8 * power(2, j.attempt - 1))::bigint;
    IF j.expires_at_ms IS NULL OR due < j.expires_at_ms THEN
      UPDATE jobs SET job_status = 'QUEUED', attempt = j.attempt + 1, published = true, retry_at_ms = due,
        progress = NULL, output = NULL, error = coalesce(p_error, j.error),
        updated_ms = greatest(j.updated_ms, p_at) WHERE uuid = p_uuid;
      RETURN QUERY SELECT 'retried'::text, j.account_id, j.session_id, j.job_type, j.attempt + 1;
      RETURN;
    END IF;
  END IF;
  UPDATE jobs SET job_status = p_status, progress = coalesce(p_progress, j.progress),
    output = coalesce(p_output, j.output), error = coalesce(p_error, j.error),
    updated_ms = greatest(j.updated_ms, p_at) WHERE uuid = p_uuid;
  RETURN QUERY SELECT 'applied'::text, j.account_id, j.session_id, j.job_type, j.attempt;
END
$$;

-- store::cancel_job on the locked row: what it did ('cancelled' or 'cancel_requested' now,
-- 'already_cancelled' or 'already_cancel_requested' for a repeat, 'finished'), nothing for an
-- unknown job or another account's.
CREATE FUNCTION jobsd_cancel_job(p_account text, p_uuid text, p_now bigint)
RETURNS TABLE (o_outcome text) LANGUAGE plpgsql AS $$
DECLARE
  j record;
BEGIN
  SELECT * INTO j FROM jobs WHERE uuid = p_uuid AND account_id = p_account FOR UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  IF j.job_status = 'QUEUED' THEN
    UPDATE jobs SET job_status = 'CANCELLED', published = true, retry_at_ms = NULL, fair_key = NULL,
      cancel_requested_ms = p_now,
      updated_ms = greatest(j.updated_ms, p_now) WHERE uuid = p_uuid;
  ELSIF j.job_status IN ('STARTED', 'IN_PROGRESS') THEN
    IF j.cancel_requested_ms IS NOT NULL THEN
      RETURN QUERY SELECT 'already_cancel_requested'::text;
      RETURN;
    END IF;
    UPDATE jobs SET cancel_requested_ms = p_now WHERE uuid = p_uuid;
  ELSE
    RETURN QUERY SELECT CASE j.job_status WHEN 'CANCELLED' THEN 'already_cancelled' ELSE 'finished' END;
    RETURN;
  END IF;
  INSERT INTO job_controls (uuid, job_type, kind, attempt, created_ms)
    VALUES (p_uuid, j.job_type, 'cancel', j.attempt, p_now);
  RETURN QUERY SELECT CASE j.job_status WHEN 'QUEUED' THEN 'cancelled' ELSE 'cancel_requested' END;
END
$$;

-- store::retry_job on the locked row: 'retried' (claimed by p_instance for p_lease_ms) or
-- 'not_retryable'; nothing for an unknown job or another account's.
CREATE FUNCTION jobsd_retry_job(p_account text, p_uuid text, p_expires_in bigint, p_now bigint,
    p_instance text, p_lease_ms float8)
RETURNS TABLE (o_outcome text) LANGUAGE plpgsql AS $$
DECLARE
  j record;
BEGIN
  SELECT * INTO j FROM jobs WHERE uuid = p_uuid AND account_id = p_account FOR UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  IF j.job_status NOT IN ('FAILED', 'CANCELLED', 'EXPIRED') THEN
    RETURN QUERY SELECT 'not_retryable'::text;
    RETURN;
  END IF;
  UPDATE jobs SET job_status = 'QUEUED', attempt = j.attempt + 1, published = false, retry_at_ms = NULL,
    progress = NULL, output = NULL, cancel_requested_ms = NULL,
    expires_in_ms = coalesce(p_expires_in, j.expires_in_ms),
    expires_at_ms = p_now + coalesce(p_expires_in, j.expires_in_ms),
    updated_ms = greatest(j.updated_ms, p_now),
    claimed_by = p_instance, claimed_until = now() + p_lease_ms * interval '1 millisecond'
    WHERE uuid = p_uuid;
  RETURN QUERY SELECT 'retried'::text;
END
$$;
)sql",
    // 7: webhooks, as SQLite's step 6 (store/webhook_schema.hpp).
    pg_webhooks_step,
    // 8: the job's W3C traceparent (issue 18), as SQLite's step 8.
    R"sql(
ALTER TABLE jobs ADD COLUMN traceparent text;
)sql",
    // 9: a job's own webhook in its row, as SQLite's step 9 (store/webhook_schema.hpp).
    pg_job_webhook_columns_step,
    // 10: step 6's jobsd_apply_event() with one rule more (model::decide_event): a SUCCESS of the
    // attempt overrules a FAILED that only a dead letter made, and clears its error.
    R"sql(
CREATE OR REPLACE FUNCTION jobsd_apply_event(p_uuid text, p_status text, p_attempt integer, p_progress integer,
    p_output text, p_error text, p_retryable boolean, p_at bigint, p_now bigint, p_policy jsonb)
RETURNS TABLE (o_outcome text, o_account_id text, o_session_id text, o_job_type text, o_attempt integer)
LANGUAGE plpgsql AS $$
DECLARE
  j record;
  pol jsonb;
  due bigint;
BEGIN
  SELECT * INTO j FROM jobs WHERE uuid = p_uuid FOR UPDATE;
  IF NOT FOUND OR (p_attempt IS NOT NULL AND p_attempt <> j.attempt) THEN RETURN; END IF;
  IF p_status IN ('STARTED', 'IN_PROGRESS') AND (j.cancel_requested_ms IS NOT NULL OR j.job_status = 'CANCELLED')
     AND NOT EXISTS (SELECT 1 FROM job_controls WHERE uuid = p_uuid) THEN
    INSERT INTO job_controls (uuid, job_type, kind, attempt, created_ms)
      VALUES (p_uuid, j.job_type, 'cancel', j.attempt, p_now);
  END IF;
  IF j.job_status = 'FAILED' AND p_status = 'SUCCESS' AND starts_with(coalesce(j.error, ''), 'dead-lettered: ') THEN
    UPDATE jobs SET job_status = p_status, progress = coalesce(p_progress, j.progress),
      output = coalesce(p_output, j.output), error = NULL,
      updated_ms = greatest(j.updated_ms, p_at) WHERE uuid = p_uuid;
    RETURN QUERY SELECT 'applied'::text, j.account_id, j.session_id, j.job_type, j.attempt;
    RETURN;
  END IF;
  IF jobsd_status_rank(j.job_status) = 3 THEN RETURN; END IF;
  IF NOT (jobsd_status_rank(p_status) > jobsd_status_rank(j.job_status)
          OR (j.job_status = 'IN_PROGRESS' AND p_status = 'IN_PROGRESS')) THEN RETURN; END IF;
  IF j.job_status = 'IN_PROGRESS' AND p_status = 'IN_PROGRESS'
     AND (p_progress IS NULL OR p_progress <= coalesce(j.progress, -1)) THEN RETURN; END IF;
  pol := p_policy -> j.job_type;
  IF p_status = 'FAILED' AND p_retryable AND j.cancel_requested_ms IS NULL AND pol IS NOT NULL
     AND j.attempt < (pol ->> 'max_attempts')::integer THEN
    due := p_now + least((pol ->> 'backoff_max_ms')::float8,
                         (pol ->> 'backoff_ms')::float8 * power(2, j.attempt - 1))::bigint;
    IF j.expires_at_ms IS NULL OR due < j.expires_at_ms THEN
      UPDATE jobs SET job_status = 'QUEUED', attempt = j.attempt + 1, published = true, retry_at_ms = due,
        progress = NULL, output = NULL, error = coalesce(p_error, j.error),
        updated_ms = greatest(j.updated_ms, p_at) WHERE uuid = p_uuid;
      RETURN QUERY SELECT 'retried'::text, j.account_id, j.session_id, j.job_type, j.attempt + 1;
      RETURN;
    END IF;
  END IF;
  UPDATE jobs SET job_status = p_status, progress = coalesce(p_progress, j.progress),
    output = coalesce(p_output, j.output), error = coalesce(p_error, j.error),
    updated_ms = greatest(j.updated_ms, p_at) WHERE uuid = p_uuid;
  RETURN QUERY SELECT 'applied'::text, j.account_id, j.session_id, j.job_type, j.attempt;
END
$$;
)sql",
    // 11: model::decide_event's overrule of an EXPIRED: a SUCCESS of the attempt takes the job
    // from EXPIRED, with its output and no error. Step 10's function, renamed, decides first; only
    // a SUCCESS it ignored (a repeat, another attempt, a final status) looks at the row again.
    R"sql(
ALTER FUNCTION jobsd_apply_event(text, text, integer, integer, text, text, boolean, bigint, bigint, jsonb)
  RENAME TO jobsd_apply_event_10;
CREATE FUNCTION jobsd_apply_event(p_uuid text, p_status text, p_attempt integer, p_progress integer,
    p_output text, p_error text, p_retryable boolean, p_at bigint, p_now bigint, p_policy jsonb)
RETURNS TABLE (o_outcome text, o_account_id text, o_session_id text, o_job_type text, o_attempt integer)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT * FROM jobsd_apply_event_10(p_uuid, p_status, p_attempt, p_progress, p_output, p_error,
                                                  p_retryable, p_at, p_now, p_policy);
  IF FOUND OR p_status <> 'SUCCESS' THEN RETURN; END IF;
  RETURN QUERY WITH overruled AS (
    UPDATE jobs SET job_status = p_status, progress = coalesce(p_progress, progress),
      output = coalesce(p_output, output), error = NULL, updated_ms = greatest(updated_ms, p_at)
    WHERE uuid = p_uuid AND job_status = 'EXPIRED' AND (p_attempt IS NULL OR p_attempt = attempt)
    RETURNING account_id, session_id, job_type, attempt)
  SELECT 'applied'::text, account_id, session_id, job_type, attempt FROM overruled;
END
$$;
)sql",
    // 12: a SUCCESS applied clears the error a retried job kept from its last attempt, as SQLite's
    // writer does (the error stays visible only until the next attempt ends). Step 11's function,
    // renamed, applies the event; the error goes only when it applied a SUCCESS and one is there.
    R"sql(
ALTER FUNCTION jobsd_apply_event(text, text, integer, integer, text, text, boolean, bigint, bigint, jsonb)
  RENAME TO jobsd_apply_event_11;
CREATE FUNCTION jobsd_apply_event(p_uuid text, p_status text, p_attempt integer, p_progress integer,
    p_output text, p_error text, p_retryable boolean, p_at bigint, p_now bigint, p_policy jsonb)
RETURNS TABLE (o_outcome text, o_account_id text, o_session_id text, o_job_type text, o_attempt integer)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT * FROM jobsd_apply_event_11(p_uuid, p_status, p_attempt, p_progress, p_output, p_error,
                                                  p_retryable, p_at, p_now, p_policy);
  IF FOUND AND p_status = 'SUCCESS' THEN
    UPDATE jobs SET error = NULL WHERE uuid = p_uuid AND error IS NOT NULL;
  END IF;
END
$$;
)sql",
    // 13: the lifecycle sweep expires published jobs too, of the types no worker consumes
    // (store::sweep_request::unconsumed): an index of every queued job with a deadline, as
    // SQLite's jobs_expiring since its step 10. Step 6's index stays for the outbox's part.
    R"sql(
CREATE INDEX jobs_queued_expiring ON jobs (expires_at_ms)
  WHERE expires_at_ms IS NOT NULL AND job_status = 'QUEUED';
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
    migrate_pg_to(conn, pg_schema_version());
}

void migrate_pg_to(PGconn* conn, int target) {
    if (target < 1 || target > pg_schema_version())
        throw pg_error("postgres: no schema version " + std::to_string(target));
    const auto steps = static_cast<std::size_t>(target);
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
        for (auto v = static_cast<std::size_t>(version); v < steps; ++v)
            run(conn, migrations[v], "migration step " + std::to_string(v + 1));
        if (static_cast<std::size_t>(version) < steps) {
            run(conn, "DELETE FROM jobsd_schema", "migration");
            run(conn, "INSERT INTO jobsd_schema (version) VALUES (" + std::to_string(steps) + ")",
                "migration");
        }
        run(conn, "COMMIT", "committing the migration");
    } catch (...) {
        PQclear(PQexec(conn, "ROLLBACK"));
        throw;
    }
}

}  // namespace jobsd::store

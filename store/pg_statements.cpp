// The PostgreSQL adapter's SQL: the named statements every pooled connection prepares, and the
// forms its parameters travel in.
#include <charconv>

#include "store/pg_binary_array.hpp"
#include "store/pg_job_row.hpp"
#include "store/pg_ops.hpp"

namespace jobsd::store {

namespace {

// ON CONFLICT DO NOTHING: a duplicate uuid or live idempotency key answers with no row instead
// of aborting the whole batch's transaction. The new job is claimed by this instance, which
// hands it to its publisher right after the commit.
constexpr std::string_view insert_job_sql =
    "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms,"
    " updated_ms, version, idempotency_key, request_hash, claimed_by, claimed_until, batch_id, attempt,"
    " expires_in_ms, expires_at_ms, priority, fair_key, published, traceparent, webhook_url, webhook_dest,"
    " webhook_events) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, now() + $13::float8 *"
    " interval '1 millisecond', $14, $15, $16, $17, $18, $19::float8, $19::float8 IS NOT NULL, $20, $21, $22,"
    " $23::integer) ON CONFLICT DO NOTHING";

// Several creates in one statement, from arrays; ON CONFLICT and RETURNING are added per use.
constexpr std::string_view insert_jobs_many_sql =
    "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms,"
    " updated_ms, version, claimed_by, claimed_until, batch_id, attempt, expires_in_ms, expires_at_ms,"
    " priority, fair_key, published, traceparent, webhook_url, webhook_dest, webhook_events)"
    " SELECT t.uuid, t.account_id, t.source_id, t.job_type, t.job_status, t.session_id, t.input,"
    " t.created_ms, t.created_ms, t.version, $1, now() + $2::float8 * interval '1 millisecond',"
    " NULLIF(t.batch_id, ''), t.attempt, t.expires_in_ms, t.expires_at_ms, t.priority, t.fair_key,"
    " t.fair_key IS NOT NULL, NULLIF(t.traceparent, ''), NULLIF(t.hook_url, ''), NULLIF(t.hook_dest, "
    "''),"
    " NULLIF(t.hook_events, '')::integer"
    " FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],"
    " $10::int8[], $11::float8[], $12::text[], $13::int8[], $14::int8[], $15::int8[], $16::int8[],"
    " $17::float8[], $18::text[], $19::text[], $20::text[], $21::text[])"
    " WITH ORDINALITY AS t(uuid, account_id, source_id, job_type, job_status, session_id, input, "
    "created_ms,"
    " version, batch_id, attempt, expires_in_ms, expires_at_ms, priority, fair_key, traceparent, "
    "hook_url,"
    " hook_dest, hook_events, n)"
    " ORDER BY t.n";

// The webhook deliveries for the jobs of the CTE `src` (columns uuid and account_id) that satisfy
// `when`: one per enabled endpoint of the job's account whose filter has `bit`, one for the job's
// own URL when its filter has it. `event`, `bit`, `event_ms` and `now` are SQL expressions.
std::string deliveries_from(std::string_view src, std::string_view when, std::string_view event,
                            std::string_view bit, std::string_view event_ms, std::string_view now) {
    const std::string s(src), w(when), ev(event), b(bit), at(event_ms), n(now);
    const std::string id = "'msg_' || replace(gen_random_uuid()::text, '-', '')";
    return "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, secret_owner, url, dest, job_uuid,"
           " event, event_ms, next_ms, created_ms) SELECT " +
           id + ", e.account_id, e.id, e.id, e.url, e.id, " + s + ".uuid, " + ev + ", " + at + ", " + n +
           ", " + n + " FROM " + s + " JOIN webhook_endpoints e ON e.account_id = " + s +
           ".account_id AND e.enabled" + " AND (e.events & " + b + ") <> 0 WHERE " + w +
           " UNION ALL SELECT " + id + ", " + s + ".account_id, NULL, 'account:' || " + s +
           ".account_id, w.webhook_url, w.webhook_dest, " + s + ".uuid, " + ev + ", " + at + ", " + n + ", " +
           n + " FROM " + s + " JOIN jobs w ON w.uuid = " + s +
           ".uuid AND w.webhook_url IS NOT NULL AND (w.webhook_events & " + b + ") <> 0 WHERE " + w;
}

// declarative table
std::vector<pg_prepared> make_statements() {
    const std::string columns(pg_job_columns);
    return {
        {"insert_job", std::string(insert_job_sql) + " RETURNING seq"},
        // The rest of a batch after its first job, in one statement and in order; inserted only
        // when the first one was ($6: its uuid), so a batch whose key was taken writes nothing.
        // New jobs are on their first attempt (the column's default); each has its own time to live,
        // priority and place in the fair queue (held when it has one).
        {"insert_batch_rest",
         "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms,"
         " updated_ms, version, claimed_by, claimed_until, batch_id, expires_in_ms, expires_at_ms, priority,"
         " fair_key, published, traceparent, webhook_url, webhook_dest, webhook_events)"
         " SELECT t.uuid, $1, t.source_id, t.job_type, $7, t.session_id, t.input, $2, $2, t.version, $3,"
         " now() + $4::float8 * interval '1 millisecond', $5, t.expires_in_ms, t.expires_at_ms, t.priority,"
         " t.fair_key, t.fair_key IS NOT NULL, NULLIF(t.traceparent, ''), NULLIF(t.hook_url, ''),"
         " NULLIF(t.hook_dest, ''), NULLIF(t.hook_events, '')::integer"
         " FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::float8[],"
         " $14::int8[], $15::int8[], $16::int8[], $17::float8[], $18::text[], $19::text[], $20::text[],"
         " $21::text[])"
         " WITH ORDINALITY AS t(uuid, source_id, job_type, session_id, input, version, expires_in_ms,"
         " expires_at_ms, priority, fair_key, traceparent, hook_url, hook_dest, hook_events, n)"
         " WHERE EXISTS (SELECT 1 FROM jobs WHERE uuid = $6) ORDER BY t.n RETURNING seq"},
        // Several single creates of one write batch (coalesce_creates), in their order; RETURNING
        // names the rows that went in. Without ON CONFLICT (a duplicate aborts the batch), and
        // with it: each row goes in or not on its own.
        {"insert_jobs_many", std::string(insert_jobs_many_sql) + " RETURNING uuid"},
        {"insert_jobs_many_skip",
         std::string(insert_jobs_many_sql) + " ON CONFLICT DO NOTHING RETURNING uuid"},
        {"list_batch",
         "SELECT " + columns + " FROM jobs WHERE batch_id = $1 AND account_id = $2 ORDER BY seq"},
        {"release_key",
         "UPDATE jobs SET idempotency_key = NULL WHERE account_id = $1 AND idempotency_key = $2 AND "
         "created_ms < $3"},
        {"find_job", "SELECT " + columns + " FROM jobs WHERE uuid = $1 AND account_id = $2"},
        // Operator views: a scan, cached by the caller; the newest jobs by commit order.
        {"count_jobs", "SELECT job_type, job_status, count(*) FROM jobs GROUP BY job_type, job_status"},
        {"recent_jobs", "SELECT " + columns + " FROM jobs ORDER BY seq DESC LIMIT $1"},
        {"find_by_key", "SELECT " + columns +
                            " FROM jobs WHERE account_id = $1 AND idempotency_key = $2 AND created_ms >= $3"},
        // Unpublished jobs nobody holds (never claimed, lease over) or that this instance holds
        // (renewing its lease); SKIP LOCKED passes over rows another instance is claiming now.
        {"claim",
         "UPDATE jobs SET claimed_by = $1, claimed_until = now() + $2::float8 * interval '1 millisecond'"
         " WHERE seq IN (SELECT seq FROM jobs WHERE NOT published AND seq > $3"
         " AND (claimed_until IS NULL OR claimed_until < now() OR claimed_by = $1)"
         " ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING seq, " +
             columns},
        // A confirmed attempt; a job retried since waits for its next attempt's message.
        {"mark_published",
         "UPDATE jobs SET published = true FROM unnest($1::text[], $2::int8[]) AS p(uuid, attempt) "
         "WHERE jobs.uuid = p.uuid AND jobs.attempt = p.attempt"},
        // The publisher's claims renewed while it still holds the jobs (store::renew_claims);
        // the uuids returned are the claims it still has. A row this instance marked published
        // meanwhile is still its own (no other instance claims a published row): counted lost,
        // its mark would look late when it was not.
        {"renew_claims",
         "UPDATE jobs SET claimed_until = now() + $2::float8 * interval '1 millisecond'"
         " WHERE uuid = ANY($3::text[]) AND claimed_by = $1 RETURNING uuid"},
        // Row locks taken in one order (LockRows sits above the Sort): see pg_op::rows_to_lock.
        {"lock_rows", "SELECT 1 FROM jobs WHERE uuid = ANY($1::text[]) ORDER BY uuid FOR UPDATE"},
        // Decided on the locked row itself (model::decide_event in PL/pgSQL, pg_schema.cpp), so
        // instances applying the same events in any order end in the same state.
        // The webhook deliveries an applied change causes ($11 event, $12 its bit, 0 for none) are
        // written by the same statement, so they commit with it or not at all; a retry causes none.
        {"apply_event",
         "WITH a AS (SELECT o_outcome, o_account_id AS account_id, o_session_id, o_job_type, o_attempt,"
         " $1::text AS uuid FROM jobsd_apply_event($1, $2, $3::integer, $4::integer, $5, $6, $7::boolean,"
         " $8::bigint, $9::bigint, $10::jsonb)), hooks AS (" +
             deliveries_from("a", "a.o_outcome = 'applied'", "$11::text", "$12::integer", "$8::bigint",
                             "$9::bigint") +
             ") SELECT o_outcome, account_id, o_session_id, o_job_type, o_attempt FROM a"},
        // The lifecycle: cancel and retry decide on the locked row (pg_schema.cpp); the sweep
        // takes rows no other instance is sweeping (SKIP LOCKED).
        // A job the cancel made CANCELLED has its webhook deliveries ($4 event, $5 its bit) written by
        // the same statement.
        {"cancel_job",
         "WITH c AS (SELECT o_outcome, $1::text AS account_id, $2::text AS uuid"
         " FROM jobsd_cancel_job($1, $2, $3::bigint)), hooks AS (" +
             deliveries_from("c", "c.o_outcome = 'cancelled'", "$4::text", "$5::integer", "$3::bigint",
                             "$3::bigint") +
             ") SELECT o_outcome FROM c"},
        {"retry_job", "SELECT * FROM jobsd_retry_job($1, $2, $3::bigint, $4::bigint, $5, $6::float8)"},
        // The expired jobs' webhook deliveries ($3 event, $4 its bit) are written by the same statement.
        {"expire_due",
         "WITH x AS (UPDATE jobs SET job_status = 'EXPIRED', published = true, fair_key = NULL,"
         " updated_ms = greatest(updated_ms, $1) WHERE seq IN (SELECT seq FROM jobs"
         " WHERE (NOT published OR fair_key IS NOT NULL) AND expires_at_ms IS NOT NULL"
         " AND expires_at_ms <= $1 AND job_status = 'QUEUED' LIMIT $2 FOR UPDATE SKIP LOCKED)"
         " RETURNING uuid, account_id, session_id, job_type, attempt, traceparent), hooks AS (" +
             deliveries_from("x", "true", "$3::text", "$4::integer", "$1::bigint", "$1::bigint") +
             ") SELECT uuid, account_id, session_id, job_type, attempt, traceparent FROM x"},
        // The published QUEUED jobs of the types in $6 whose deadline is at or before $5 (index
        // jobs_queued_expiring), as expire_due does the outbox's.
        {"expire_unconsumed",
         "WITH x AS (UPDATE jobs SET job_status = 'EXPIRED', published = true, fair_key = NULL,"
         " retry_at_ms = NULL, updated_ms = greatest(updated_ms, $1) WHERE seq IN (SELECT seq FROM jobs"
         " WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= $5 AND job_status = 'QUEUED'"
         " AND job_type = ANY($6::text[]) LIMIT $2 FOR UPDATE SKIP LOCKED)"
         " RETURNING uuid, account_id, session_id, job_type, attempt, traceparent), hooks AS (" +
             deliveries_from("x", "true", "$3::text", "$4::integer", "$1::bigint", "$1::bigint") +
             ") SELECT uuid, account_id, session_id, job_type, attempt, traceparent FROM x"},
        {"probe_overdue",
         "SELECT EXISTS (SELECT 1 FROM jobs WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= $1"
         " AND job_status = 'QUEUED')"},
        {"release_retries",
         "UPDATE jobs SET published = false, retry_at_ms = NULL, claimed_by = $2,"
         " claimed_until = now() + $3::float8 * interval '1 millisecond' WHERE seq IN (SELECT seq FROM jobs"
         " WHERE retry_at_ms IS NOT NULL AND retry_at_ms <= $1 AND job_status = 'QUEUED' ORDER BY retry_at_ms"
         " LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING " +
             columns},
        // Held jobs leave the type's fair queue in fair_key order, claimed by this instance
        // (store::release_held); each comes back with its fair_key (the last column).
        {"release_held",
         "WITH picked AS (SELECT seq, fair_key AS tag FROM jobs WHERE fair_key IS NOT NULL AND job_type = $1"
         " AND job_status = 'QUEUED' ORDER BY fair_key LIMIT $2 FOR UPDATE SKIP LOCKED)"
         " UPDATE jobs SET published = false, fair_key = NULL, claimed_by = $3,"
         " claimed_until = now() + $4::float8 * interval '1 millisecond' FROM picked"
         " WHERE jobs.seq = picked.seq RETURNING " +
             columns + ", picked.tag"},
        {"list_controls",
         "SELECT seq, uuid, job_type, kind, attempt, created_ms FROM job_controls ORDER BY seq LIMIT $1"},
        {"remove_controls", "DELETE FROM job_controls WHERE seq = ANY($1::bigint[])"},
        {"stuck_jobs", "SELECT " + columns +
                           " FROM jobs WHERE job_status IN ('STARTED', 'IN_PROGRESS') AND updated_ms < $1"
                           " ORDER BY updated_ms"},
        {"outbox_stats",
         "SELECT job_type, count(*), min(created_ms) FROM jobs WHERE NOT published GROUP BY job_type"},
    };
}

}  // namespace

const std::vector<pg_prepared>& pg_prepared_statements() {
    static const std::vector<pg_prepared> all = [] {
        auto v = make_statements();
        for (auto& s : pg_webhook_statements()) v.push_back(std::move(s));
        return v;
    }();
    return all;
}

pg_statement pg_lock_rows(const std::vector<std::string>& uuids) {
    return {"lock_rows", {pg_text_array(uuids)}};
}

std::string pg_number(std::int64_t v) {
    return std::to_string(v);
}

std::string pg_number(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

pg_param pg_int_array(const std::vector<std::optional<std::int64_t>>& items) {
    pg_binary_array a(pg_element::int8);
    for (const auto& v : items) a.add_int(v);
    return a.take();
}

pg_param pg_text_array(const std::vector<std::string>& items) {
    pg_binary_array a(pg_element::text);
    for (const auto& v : items) a.add_text(v);
    return a.take();
}

}  // namespace jobsd::store

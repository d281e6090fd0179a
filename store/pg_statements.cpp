// The PostgreSQL adapter's SQL: the named statements every pooled connection prepares, and the
// text form its parameters travel in.
#include <charconv>

#include "store/pg_job_row.hpp"
#include "store/pg_ops.hpp"

namespace jobsd::store {

namespace {

// ON CONFLICT DO NOTHING: a duplicate uuid or live idempotency key answers with no row instead
// of aborting the whole batch's transaction. The new job is claimed by this instance, which
// hands it to its publisher right after the commit.
constexpr std::string_view insert_job_sql =
    "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms,"
    " updated_ms, version, idempotency_key, request_hash, claimed_by, claimed_until, batch_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12,"
    " now() + $13::float8 * interval '1 millisecond', $14) ON CONFLICT DO NOTHING";

std::vector<pg_prepared> make_statements() {
    const std::string columns(pg_job_columns);
    return {
        {"insert_job", std::string(insert_job_sql) + " RETURNING seq"},
        // The same, for a job naming its own webhook URL ($15, its origin $16, its filter $17),
        // stored beside it only when the job row went in.
        {"insert_job_with_webhook",
         "WITH j AS (" + std::string(insert_job_sql) +
             " RETURNING seq, uuid), w AS (INSERT INTO job_webhooks (job_uuid, url, dest,"
             " events) SELECT uuid, $15, $16, $17::integer FROM j) SELECT seq FROM j"},
        // The rest of a batch after its first job, in one statement and in order; inserted only
        // when the first one was ($6: its uuid), so a batch whose key was taken writes nothing.
        {"insert_batch_rest",
         "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms,"
         " updated_ms, version, claimed_by, claimed_until, batch_id)"
         " SELECT t.uuid, $1, t.source_id, t.job_type, $7, t.session_id, t.input, $2, $2, t.version, $3,"
         " now() + $4::float8 * interval '1 millisecond', $5"
         " FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::float8[])"
         " WITH ORDINALITY AS t(uuid, source_id, job_type, session_id, input, version, n)"
         " WHERE EXISTS (SELECT 1 FROM jobs WHERE uuid = $6) ORDER BY t.n RETURNING seq"},
        // The own webhooks of a batch's jobs after its first ($2.. as arrays), written only when
        // the first job went in ($1: its uuid), as insert_batch_rest is.
        {"insert_batch_webhooks",
         "INSERT INTO job_webhooks (job_uuid, url, dest, events)"
         " SELECT t.uuid, t.url, t.dest, t.events::integer"
         " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(uuid, url, dest, events)"
         " WHERE EXISTS (SELECT 1 FROM jobs WHERE uuid = $1)"},
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
        {"mark_published", "UPDATE jobs SET published = true WHERE uuid = ANY($1::text[])"},
        // The publisher's claims renewed while it still holds the jobs (store::renew_claims);
        // the uuids returned are the claims it still has.
        {"renew_claims",
         "UPDATE jobs SET claimed_until = now() + $2::float8 * interval '1 millisecond'"
         " WHERE uuid = ANY($3::text[]) AND claimed_by = $1 AND NOT published RETURNING uuid"},
        // Row locks taken in one order (LockRows sits above the Sort): see pg_op::rows_to_lock.
        {"lock_rows", "SELECT 1 FROM jobs WHERE uuid = ANY($1::text[]) ORDER BY uuid FOR UPDATE"},
        // Forward only, decided on the row itself: $7 lists the states the event may follow,
        // and within IN_PROGRESS the progress must grow (model::moves_forward), so instances
        // applying the same events in any order end in the same state.
        // The webhook deliveries the change causes ($8 event, $9 its bit, 0 for none; $10 now) are
        // written by the same statement, so they commit with it or not at all.
        {"apply_event",
         "WITH up AS (UPDATE jobs SET job_status = $2, progress = coalesce($3::integer, progress),"
         " output = coalesce($4, output), error = coalesce($5, error), updated_ms = greatest(updated_ms, $6)"
         " WHERE uuid = $1 AND job_status = ANY($7::text[]) AND (job_status <> 'IN_PROGRESS' OR $2 <> "
         "'IN_PROGRESS'"
         " OR (progress IS NULL AND $3::integer IS NOT NULL) OR progress < $3::integer)"
         " RETURNING uuid, account_id, session_id, job_type),"
         " hooks AS (INSERT INTO webhook_deliveries (id, account_id, endpoint_id, secret_owner, url, dest,"
         " job_uuid, event, event_ms, next_ms, created_ms)"
         " SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), e.account_id, e.id, e.id, e.url, e.id,"
         " up.uuid, $8::text, $6::bigint, $10::bigint, $10::bigint FROM up JOIN webhook_endpoints e ON "
         "e.account_id = up.account_id"
         " AND e.enabled AND (e.events & $9::integer) <> 0"
         " UNION ALL SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), up.account_id, NULL,"
         " 'account:' || up.account_id, w.url, w.dest, up.uuid, $8::text, $6::bigint, $10::bigint, "
         "$10::bigint FROM up"
         " JOIN job_webhooks w ON w.job_uuid = up.uuid AND (w.events & $9::integer) <> 0)"
         " SELECT account_id, session_id, job_type FROM up"},
        {"outbox_stats", "SELECT count(*), min(created_ms) FROM jobs WHERE NOT published"},
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

std::string pg_float_array(const std::vector<std::optional<double>>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += items[i] ? pg_number(*items[i]) : "NULL";
    }
    return out + "}";
}

std::string pg_text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

}  // namespace jobsd::store

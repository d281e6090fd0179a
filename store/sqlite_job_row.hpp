// The jobs row in SQLite's dialect: one column list and one reader, shared by sqlite_store and
// sqlite_admin_store, so a column of the jobs table is named and read in one place.
// Thread safety: plain functions over a statement the calling thread owns.
#pragma once

#include <string>
#include <string_view>

#include "store/admin_store.hpp"
#include "store/job_record.hpp"
#include "store/sqlite_db.hpp"

namespace jobsd::store {

// Every column of a job, in the order read_sqlite_job reads them.
inline constexpr std::string_view sqlite_job_columns =
    "uuid, account_id, source_id, job_type, job_status, session_id, input, output, error, created_ms, "
    "updated_ms, version, progress, idempotency_key, request_hash, batch_id, attempt, expires_in_ms, "
    "expires_at_ms, cancel_requested_ms, retry_at_ms, priority, fair_key, traceparent";

// The job in sqlite_job_columns, starting at result column `first`.
job_record read_sqlite_job(const sqlite_statement& st, int first);

// "SELECT seq, <published>, <sqlite_job_columns> FROM jobs <rest>": a job with its outbox state
// (published: not waiting in the outbox), as read_sqlite_admin_job reads it.
std::string select_sqlite_admin_jobs(std::string_view rest);
admin_job read_sqlite_admin_job(const sqlite_statement& st);

}  // namespace jobsd::store

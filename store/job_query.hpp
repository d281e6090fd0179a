// A page of one account's jobs, newest first, with filters and a keyset position, and the SQL
// that reads it in either dialect. Both adapters run the same query through this one builder.
// Thread safety: plain data and pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/job_status.hpp"
#include "model/job_type.hpp"

namespace jobsd::store {

// A job's place in the list order: (created_ms, uuid), both descending.
struct job_position {
    std::int64_t created_ms = 0;
    std::string uuid;
};

struct job_query {
    std::string account_id;                      // always applied: a key sees its own jobs only
    std::vector<model::job_status> statuses;     // any of these; empty: every status
    std::optional<model::job_type> type;         // job_type
    std::optional<std::string> session_id;       // session_id
    std::optional<std::string> source_id;        // the resolved template or project id
    std::optional<std::int64_t> created_after;   // created_ms > this
    std::optional<std::int64_t> created_before;  // created_ms < this
    std::optional<job_position> after;           // keyset: only jobs that come after it in the order
    std::size_t limit = 50;                      // rows returned at most
};

// SQL text and its parameters in order ($1.. for PostgreSQL, ?1.. for SQLite).
struct job_query_sql {
    std::string sql;
    std::vector<std::variant<std::int64_t, std::string>> params;
};

// "SELECT <columns> FROM jobs WHERE … ORDER BY created_ms DESC, uuid DESC LIMIT n". The
// account, the filters and the position are index range bounds on jobs_account_created (or
// jobs_account_session when session_id is given); status, type and source are checked on the rows
// walked in that index's order.
job_query_sql list_jobs_sql(const job_query& q, std::string_view columns, bool postgres);

}  // namespace jobsd::store

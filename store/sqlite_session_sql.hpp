// The SQLite index of sessions' jobs, shared by the writer's catch-up (sqlite_session_index.cpp)
// and the job lists (job_query.cpp): session_jobs holds jobs_account_session's old key for every
// job up to session_jobs_through's seq (schema step 11); the jobs above it are read by seq.
#pragma once

#include <string_view>

namespace jobsd::store::sqlite_sessions {

inline constexpr std::string_view table = "session_jobs";

// The last seq session_jobs holds: every job at or below it, none above.
inline constexpr std::string_view through = "SELECT seq FROM session_jobs_through";

// Indexes the jobs above session_jobs_through, up to seq ?1. OR IGNORE: a job already there
// (session_jobs_through set back by hand) is not an error.
inline constexpr std::string_view catch_up =
    "INSERT OR IGNORE INTO session_jobs (account_id, session_id, created_ms, uuid, seq)"
    " SELECT account_id, session_id, created_ms, uuid, seq FROM jobs"
    " WHERE seq > (SELECT seq FROM session_jobs_through) AND seq <= ?1";

inline constexpr std::string_view advance = "UPDATE session_jobs_through SET seq = ?1";

}  // namespace jobsd::store::sqlite_sessions

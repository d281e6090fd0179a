// The SQLite index of sessions' jobs, shared by the writer's catch-up (sqlite_session_index.cpp)
// and the job lists (job_query.cpp): session_jobs holds jobs_account_session's old key for every
// job up to session_jobs_through's seq (schema step 11), and may hold some above it (a generation
// being written), which the lists leave out; the jobs above it are read by seq.
#pragma once

#include <string_view>

namespace jobsd::store::sqlite_sessions {

inline constexpr std::string_view table = "session_jobs";

// The seq session_jobs is complete through: it holds every job at or below it.
inline constexpr std::string_view through = "SELECT seq FROM session_jobs_through";

// The keys of the jobs committed above seq ?1, in seq order, ?2 at most.
inline constexpr std::string_view committed_since =
    "SELECT account_id, session_id, created_ms, uuid, seq FROM jobs WHERE seq > ?1 ORDER BY seq LIMIT ?2";

// One job's key. OR IGNORE: a job already there (a generation written in part before a stop, or
// session_jobs_through set back by hand) is not an error.
inline constexpr std::string_view insert =
    "INSERT OR IGNORE INTO session_jobs (account_id, session_id, created_ms, uuid, seq) VALUES (?1, ?2, ?3, "
    "?4, ?5)";

inline constexpr std::string_view advance = "UPDATE session_jobs_through SET seq = ?1";

}  // namespace jobsd::store::sqlite_sessions

// A session's jobs in SQLite, indexed behind the writer in batches instead of by every create.
// An index on (account, session, time) took a page of the log per session written to in each
// commit: under many clients' sessions at once, most of what a create wrote (bench/RESULTS.md,
// issue 20). session_jobs holds the same key for the jobs up to session_jobs_through's seq; the
// writer catches it up inside one of its transactions once `rows` jobs wait or `interval` has
// passed, so a page takes many sessions' jobs at once. A session's page reads session_jobs and,
// by seq, the few jobs committed since (store/job_query.cpp): nothing is missing in between.
// Thread safety: the writer thread's alone (it runs as a write op of the writer's batches).
#pragma once

#include <chrono>
#include <cstdint>

#include "store/sqlite_db.hpp"
#include "store/sqlite_ops.hpp"

namespace jobsd::store {

class sqlite_session_index final : public sqlite_write_op {
  public:
    // `rows`, `interval`: sqlite_options::session_index_rows, session_index_interval.
    sqlite_session_index(sqlite_db& db, std::int64_t rows, std::chrono::milliseconds interval);

    // Inside the writer's open transaction: true when `rows` jobs or more wait to be indexed, or
    // some do and `interval` has passed since the last catch-up.
    bool due(std::chrono::steady_clock::time_point now);
    // Indexes the jobs waiting when due() was asked, in the open transaction.
    error_code execute(sqlite_writer_ctx& w) override;
    // After the transaction: the catch-up holds from now on when it committed; else the same jobs
    // are tried again by the next due one.
    void finish(error_code ec) override;

  private:
    sqlite_db& db_;
    const std::int64_t rows_;
    const std::chrono::milliseconds interval_;
    sqlite_statement newest_, catch_up_, advance_;
    std::int64_t through_ = 0;  // what session_jobs_through holds, as of the last commit
    std::int64_t newest_seq_ = 0;
    std::chrono::steady_clock::time_point last_, asked_;
};

}  // namespace jobsd::store

// A session's jobs in PostgreSQL, indexed in batches instead of by every create, as SQLite does
// (store/sqlite_session_index.hpp). The index on (account, session, time, uuid) took a quarter of
// the server's work per job at ingest: one insertion point per client's session sequence, its
// pages split in the middle (bench/RESULTS.md, issue 20). session_jobs holds that key for every
// job up to session_jobs_through's seq; a session's page reads it and, by seq, the jobs above
// (store/job_query.cpp).
//
// Several jobsd insert into one table, and a seq is handed out when a row is inserted, not when
// it commits: a catch-up "through the newest seq" could pass over a job committed later below
// it. So every write batch that inserts jobs first takes a shared advisory lock, and a catch-up
// first takes the same lock exclusively, for a moment, in a transaction of its own: no insert is
// then in flight, so every seq handed out so far belongs to a finished transaction. It records
// that seq as session_jobs_horizon, and then, in a second transaction, indexes the jobs up to
// it. Waiting for the exclusive lock holds new inserts back for as long as the inserts already
// in flight take to commit: one batch.
//
// An earlier jobsd takes no such lock: while one still inserts into the same database, a job it
// commits late may be left out of session_jobs (it still lists without a session filter).
// Upgrade every instance before a newer one has caught up behind an older one's writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <libpq-fe.h>

#include "store/pg_connection.hpp"

namespace jobsd::store {

struct pg_op;  // store/pg_ops.hpp

namespace pg_sessions {

// The first statement of a write batch that inserts jobs, after BEGIN, and its preparation.
pg_statement insert_lock();
pg_prepared insert_lock_statement();

// The advisory lock of inserts (shared) and of the catch-up's horizon (exclusive): "jobsd" in
// ASCII plus one, next to the migration lock.
inline constexpr std::int64_t insert_lock_key = 431231431013;

// Schema step 10 (store/pg_schema.cpp): the table, its two marks, the jobs already there. The
// migration holds the insert lock, so no newer jobsd's insert is in flight when it reads the
// newest seq.
inline constexpr std::string_view schema_step = R"sql(
SELECT pg_advisory_xact_lock(431231431013);
DROP INDEX jobs_account_session;
CREATE TABLE session_jobs (
  account_id  text NOT NULL,
  session_id  text NOT NULL,
  created_ms  bigint NOT NULL,
  uuid        text NOT NULL,
  seq         bigint NOT NULL,
  PRIMARY KEY (account_id, session_id, created_ms, uuid)
);
CREATE TABLE session_jobs_through (seq bigint NOT NULL);
CREATE TABLE session_jobs_horizon (seq bigint NOT NULL);
INSERT INTO session_jobs (account_id, session_id, created_ms, uuid, seq)
  SELECT account_id, session_id, created_ms, uuid, seq FROM jobs;
INSERT INTO session_jobs_through (seq) SELECT coalesce(max(seq), 0) FROM jobs;
INSERT INTO session_jobs_horizon (seq) SELECT seq FROM session_jobs_through;
)sql";

// session_jobs_through now, on a blocking connection (startup); 0 when it cannot be read.
std::int64_t read_through(PGconn* conn);

// When a store catches the index up, and what it last saw of it: the store's io thread alone.
class catch_up_schedule {
  public:
    // `rows`, `interval`: pg_options::session_index_rows, session_index_interval; `through`: the
    // index's mark at start.
    catch_up_schedule(std::int64_t rows, std::chrono::milliseconds interval, std::int64_t through);
    // `committed` more jobs committed here, or a session's page asked for (`listing`): true when a
    // catch-up starts now, because `rows` jobs wait, or some do (or a page is asked for) and
    // `interval` has passed. The caller runs it and then calls finished().
    bool start(std::uint64_t committed, bool listing);
    void finished(std::optional<std::int64_t> through);
    // session_jobs_through as last seen: a hint for the lists (store/job_query.hpp).
    const std::int64_t& through() const { return through_; }

  private:
    const std::uint64_t rows_;
    const std::chrono::milliseconds interval_;
    std::int64_t through_;
    std::uint64_t unindexed_ = 0;
    bool running_ = false;
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// The catch-up, run on a connection of its own (a read op: its own two transactions). `done`
// gets session_jobs_through afterwards, or nullopt when it failed; on the store's io thread.
std::unique_ptr<pg_op> make_catch_up_op(std::function<void(std::optional<std::int64_t>)> done);

}  // namespace pg_sessions

}  // namespace jobsd::store

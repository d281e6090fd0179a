// A session's jobs in SQLite, indexed behind the writer in batches instead of by every create.
// An index on (account, session, time) took a page of the log per session written to in each
// commit: under many clients' sessions at once, most of what a create wrote (bench/RESULTS.md,
// issue 20). session_jobs holds the same key for the jobs up to session_jobs_through's seq; a
// session's page reads session_jobs up to that seq and, by seq, the jobs committed since
// (store/job_query.cpp): nothing is missing in between, nothing is read twice.
//
// The catch-up never holds the writer for long. At the start of each of its transactions the
// writer reads the keys of the jobs committed since the last one (pages it has just written, still
// in its cache) into memory. Once `rows` keys wait, or some do and `interval` has passed, they
// become a generation: sorted in the index's key order and written a slice per transaction, so
// each slice fills a few neighbouring pages, and session_jobs_through moves past the generation
// with its last slice. (Written all at once, 4 096 jobs' keys held every create waiting behind them
// for about 6 ms, several times a second under load: bench/RESULTS.md.) Rows of a generation not
// finished when jobsd stopped are above session_jobs_through, so no page reads them, and the next
// catch-up writes them again (OR IGNORE).
// Thread safety: the writer thread's alone (it runs as a write op of the writer's batches).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/sqlite_db.hpp"
#include "store/sqlite_ops.hpp"

namespace jobsd::store {

class sqlite_session_index final : public sqlite_write_op {
  public:
    // Keys of one generation written in one transaction at most.
    static constexpr std::size_t slice_rows = 256;

    // `rows`, `interval`: sqlite_options::session_index_rows, session_index_interval.
    sqlite_session_index(sqlite_db& db, std::int64_t rows, std::chrono::milliseconds interval);

    // At the start of the writer's transaction, before its ops: reads the keys of the jobs committed
    // since the last call (up to twice `rows` held in memory). Read before the ops, so a key is
    // never of a job that the transaction may yet roll back.
    void collect();
    // After the transaction's ops: true when a slice of a generation is to be written in it (a new
    // generation starts when `rows` keys wait, or some do and `interval` has passed).
    bool due(std::chrono::steady_clock::time_point now);
    // Writes the slice, and with the generation's last one moves session_jobs_through past it.
    error_code execute(sqlite_writer_ctx& w) override;
    // After the transaction: the slice holds from now on when it committed; else it is written
    // again by the next transaction.
    void finish(error_code ec) override;

  private:
    struct key {
        std::string account_id, session_id, uuid;
        std::int64_t created_ms = 0, seq = 0;
    };

    sqlite_db& db_;
    const std::size_t rows_;
    const std::chrono::milliseconds interval_;
    sqlite_statement read_, insert_, advance_;
    std::vector<key> collected_;                  // read, not yet in a generation; in seq order
    std::int64_t collected_through_ = 0;          // the last seq read
    std::vector<key> generation_;                 // being written, in the index's key order
    std::int64_t generation_through_ = 0;         // the last seq it holds
    std::size_t written_ = 0;                     // of generation_, committed
    std::size_t slice_end_ = 0;                   // of generation_, written in the open transaction
    std::chrono::steady_clock::time_point last_;  // the last generation's start
};

}  // namespace jobsd::store

// The SQLite file a jobsd child serves, seen from the test: what is stored in it, and locks a
// test holds on it to stall jobsd's writer or to play a slow reader.
//
// Thread safety: each object is one SQLite connection; use it from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

struct sqlite3;

namespace jobsd::test {

// Every uuid in the `jobs` table of `db`. Opens read-write without create: a missing file fails,
// and recovering the WAL a crash left behind needs write access. Throws std::runtime_error.
std::set<std::string> stored_uuids(const std::filesystem::path& db);

// The first column of the first row of `sql` on `db`, as an integer. Throws std::runtime_error.
std::int64_t sqlite_int(const std::filesystem::path& db, const std::string& sql);

// Holds SQLite's write lock on `db` (BEGIN IMMEDIATE on a connection of its own) until release()
// or destruction. jobsd's writer then waits in SQLite's busy handler with the batch it took, for
// at most 5 s (store/sqlite_db.cpp) before that batch fails; writes arriving meanwhile queue up.
// So: keep the lock well under 5 s, and release it before asserting on the held requests.
class sqlite_write_lock {
  public:
    explicit sqlite_write_lock(const std::filesystem::path& db);
    ~sqlite_write_lock();  // rolls back; never throws
    sqlite_write_lock(const sqlite_write_lock&) = delete;
    sqlite_write_lock& operator=(const sqlite_write_lock&) = delete;

    void release();  // rolls back: the writer goes on
    // How long the lock has been held so far.
    std::chrono::milliseconds held() const;

  private:
    sqlite3* db_ = nullptr;
    bool held_ = false;
    std::chrono::steady_clock::time_point since_;
};

// A reader in the middle of a read transaction on `db` (it has read the jobs table and keeps
// its snapshot) until release() or destruction: what a slow reader connection looks like.
class sqlite_read_snapshot {
  public:
    explicit sqlite_read_snapshot(const std::filesystem::path& db);
    ~sqlite_read_snapshot();
    sqlite_read_snapshot(const sqlite_read_snapshot&) = delete;
    sqlite_read_snapshot& operator=(const sqlite_read_snapshot&) = delete;

    // Jobs in the snapshot (the same count however many are committed meanwhile).
    std::int64_t jobs() const;
    void release();

  private:
    sqlite3* db_ = nullptr;
    bool open_ = false;
};

}  // namespace jobsd::test

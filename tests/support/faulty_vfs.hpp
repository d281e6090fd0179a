// An SQLite VFS for tests that need the disk to fail: it wraps the default ("unix") VFS, becomes
// the process's default, and fails the next N writes to write-ahead-log files on request. The
// store under test runs real SQLite on a real file; only the OS layer below it misbehaves.
// Thread safety: install() once before any database is opened; fail_next_wal_writes() and
// failed_writes() from any thread.
#pragma once

#include <cstddef>

namespace jobsd::test {

class faulty_vfs {
  public:
    // Registers the VFS as the default; later calls do nothing.
    static void install();
    // The next `n` writes to a WAL file fail with SQLITE_IOERR_WRITE, as a failing disk would.
    static void fail_next_wal_writes(int n);
    // Writes failed so far.
    static std::size_t failed_writes();
};

}  // namespace jobsd::test

// A SQLite VFS for the one connection that writes a database in WAL mode with synchronous = FULL
// (the SQLite store's writer). It is the platform's default VFS in every respect but one: the
// writes a transaction makes to the WAL (two per page: the frame's header, then the page) are
// gathered in memory and reach the file as one write, before the sync that commits them.
//
// Why it is safe only there: SQLite publishes a commit to other connections (the WAL index in
// shared memory) after its frames are written, and under synchronous = FULL it syncs the WAL
// between the two; the gathered bytes are written at that sync. Under NORMAL there is no sync
// at a commit, and another connection could be told of frames still in this process's memory,
// so a connection with synchronous below FULL must not use this VFS.
//
// The gathered bytes are written before any read, size, truncate or sync of the WAL, and
// whenever they reach a mebibyte; a write that fails is reported by the call that made it
// (xWrite, xSync, ...), as SQLite expects of a failing disk. Bytes still held when the write
// transaction ends (its WAL write lock released) or the WAL closes are frames of a transaction
// that rolled back after spilling pages: dropped, since another connection may write that part of
// the log next. A WAL is gathered only when it can be tied to its connection's database file
// (sqlite3_filename_database), whose lock calls say when that is; otherwise it is written as is.
//
// Thread safety: registering is done once per process (first call); a file is used by its
// connection's thread; the counts are atomic.
#pragma once

#include <cstdint>

namespace jobsd::store::wal_gather_vfs {

// The VFS's name for sqlite3_open_v2, registered on the first call (not as the default VFS). It
// wraps the VFS that is the process's default at that call.
const char* name();

// Writes to WAL files since the process started: made by SQLite, and made to the file below.
struct wal_writes {
    std::uint64_t taken = 0;
    std::uint64_t made = 0;
};
wal_writes counts() noexcept;

}  // namespace jobsd::store::wal_gather_vfs

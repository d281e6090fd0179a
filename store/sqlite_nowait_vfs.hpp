// A SQLite VFS for connections on threads that must never wait for the disk (jobsd's io
// threads). It is the platform's default VFS in every respect but one: a read of the database
// file or its WAL is served only from the kernel's page cache (preadv2 with RWF_NOWAIT). A read
// that would have to go to the disk, or wait for a page another thread holds locked, fails with
// SQLITE_IOERR_READ at once and marks the calling thread, so that the caller can tell it from a
// real I/O error and run the statement on a thread that may wait (store/sqlite_inline_reads.hpp).
//
// Thread safety: registering is done once per process (first call); a mark belongs to the thread
// that made the read.
#pragma once

namespace jobsd::store::nowait_vfs {

// The VFS's name for sqlite3_open_v2, registered on the first call (not as the default VFS).
const char* name();

// True when a read on this thread found its data outside the page cache since the last call;
// clears the mark.
bool take_declined() noexcept;

// While one lives, this thread's reads through the VFS may wait for the disk: for opening a
// connection and preparing its statements, which happen off the io threads.
class waiting_allowed {
  public:
    waiting_allowed() noexcept;
    ~waiting_allowed();
    waiting_allowed(const waiting_allowed&) = delete;
    waiting_allowed& operator=(const waiting_allowed&) = delete;

  private:
    bool before_;
};

}  // namespace jobsd::store::nowait_vfs

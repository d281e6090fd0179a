// The default VFS wrapped (store/sqlite_vfs_shim.hpp): a WAL's writes gathered until its next
// sync, read, size or truncate, and dropped unwritten when its write transaction ends without one.
#include "store/sqlite_wal_gather_vfs.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "store/sqlite_vfs_shim.hpp"

namespace jobsd::store::wal_gather_vfs {

namespace {

// A commit of a few hundred pages fits; a bigger one (a long catch-up, a spill) is written a
// mebibyte at a time.
constexpr sqlite3_int64 gather_max = 1 << 20;
// The unix VFS writes at most 128 KiB - 1 bytes a call (its seekAndWrite masks the count with
// 0x1ffff, and a remainder it masks to 0 reads as a full disk), so what is held goes down in
// pieces of 31 pages.
constexpr sqlite3_int64 piece_max = 31 * 4096;

std::atomic<std::uint64_t> taken{0};
std::atomic<std::uint64_t> made{0};

struct policy : sqlite_vfs_passthrough {
    struct file_state {
        bool wal = false;               // a WAL whose writes are gathered
        const char* name = nullptr;     // a database's name as SQLite gave it (its WAL finds it by it)
        file_state* peer = nullptr;     // the database's WAL, or the WAL's database (one connection)
        std::unique_ptr<char[]> bytes;  // gather_max bytes once the WAL is first written
        sqlite3_int64 start = 0;        // the file offset of bytes[0]
        sqlite3_int64 size = 0;         // bytes held; 0: nothing gathered
    };

    // A WAL's writes are gathered only once it is tied to its connection's database file, whose
    // shared-memory locks say when a write transaction ends (shm_lock).
    static void opened(file_state& f, const char* name, int flags) {
        if (name == nullptr) return;
        const std::lock_guard lock(open_files);
        if ((flags & SQLITE_OPEN_MAIN_DB) != 0) {
            f.name = name;
            databases.emplace(name, &f);
        } else if ((flags & SQLITE_OPEN_WAL) != 0) {
            const auto db = databases.find(sqlite3_filename_database(name));
            if (db == databases.end() || db->second->peer != nullptr) return;
            f.wal = true;
            f.peer = db->second;
            db->second->peer = &f;
        }
    }
    // A WAL's bytes still held at its close belong to no commit (every commit syncs them out):
    // dropped.
    static void closing(file_state& f, sqlite3_file*) {
        const std::lock_guard lock(open_files);
        if (f.peer != nullptr) f.peer->peer = nullptr;
        if (f.name != nullptr) databases.erase(f.name);
    }
    // The end of a write transaction (its WAL write lock, slot 0, released): whatever the WAL
    // still holds was written by a transaction that rolled back (a commit syncs its frames out
    // first), and another connection may now write that part of the log. Dropped, never written.
    static int shm_lock(file_state& f, sqlite3_file* base, int offset, int n, int flags) {
        const int rc = base->pMethods->xShmLock(base, offset, n, flags);
        if (f.peer != nullptr && offset == 0 && flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE))
            f.peer->size = 0;
        return rc;
    }

    static inline std::mutex open_files;
    static inline std::unordered_map<const char*, file_state*> databases;  // by SQLite's name pointer

    // Writes `n` bytes at `offset` to the file below, a piece at a time.
    static int write_pieces(sqlite3_file* base, const char* bytes, sqlite3_int64 n, sqlite3_int64 offset) {
        int rc = SQLITE_OK;
        for (sqlite3_int64 at = 0; at < n && rc == SQLITE_OK; at += piece_max) {
            rc = base->pMethods->xWrite(base, bytes + at, static_cast<int>(std::min(piece_max, n - at)),
                                        offset + at);
            made.fetch_add(1, std::memory_order_relaxed);
        }
        return rc;
    }
    // Writes what is held. The bytes are dropped whether or not the write succeeds: after a
    // failure SQLite rolls the transaction back and writes its frames again.
    static int flush(file_state& f, sqlite3_file* base) {
        const int rc = write_pieces(base, f.bytes.get(), f.size, f.start);
        f.size = 0;
        return rc;
    }

    static int write(file_state& f, sqlite3_file* base, const void* buffer, int n, sqlite3_int64 offset) {
        if (!f.wal) return base->pMethods->xWrite(base, buffer, n, offset);
        taken.fetch_add(1, std::memory_order_relaxed);
        // Appended, or over bytes still held (a frame written again in the same transaction):
        // into the buffer. Anything else (a gap, an earlier offset) writes what is held first.
        const bool joins = f.size > 0 && offset >= f.start && offset <= f.start + f.size;
        if (!joins || offset + n - f.start > gather_max) {
            if (const int rc = flush(f, base); rc != SQLITE_OK) return rc;
            if (n > gather_max)  // never a WAL write of SQLite's (a page at most), but not dropped
                return write_pieces(base, static_cast<const char*>(buffer), n, offset);
            f.start = offset;
        }
        if (!f.bytes) f.bytes = std::make_unique_for_overwrite<char[]>(gather_max);
        std::memcpy(f.bytes.get() + (offset - f.start), buffer, static_cast<std::size_t>(n));
        f.size = std::max(f.size, offset + n - f.start);
        return SQLITE_OK;
    }

    static int read(file_state& f, sqlite3_file* base, void* buffer, int n, sqlite3_int64 offset) {
        if (f.size > 0 && offset < f.start + f.size && offset + n > f.start)
            if (const int rc = flush(f, base); rc != SQLITE_OK) return rc;
        return base->pMethods->xRead(base, buffer, n, offset);
    }
    static int truncate(file_state& f, sqlite3_file* base, sqlite3_int64 size) {
        if (const int rc = flush(f, base); rc != SQLITE_OK) return rc;
        return base->pMethods->xTruncate(base, size);
    }
    static int sync(file_state& f, sqlite3_file* base, int flags) {
        if (const int rc = flush(f, base); rc != SQLITE_OK) return rc;
        return base->pMethods->xSync(base, flags);
    }
    static int file_size(file_state& f, sqlite3_file* base, sqlite3_int64* size) {
        if (const int rc = flush(f, base); rc != SQLITE_OK) return rc;
        return base->pMethods->xFileSize(base, size);
    }
};

}  // namespace

const char* name() {
    return sqlite_vfs_shim<policy>::install("jobsd-wal-gather", false);
}

wal_writes counts() noexcept {
    return {taken.load(std::memory_order_relaxed), made.load(std::memory_order_relaxed)};
}

}  // namespace jobsd::store::wal_gather_vfs

// The default VFS wrapped (store/sqlite_vfs_shim.hpp): the reads of a database and its WAL first
// try the page cache alone, on a descriptor of their own.
#include "store/sqlite_nowait_vfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "store/sqlite_vfs_shim.hpp"

namespace jobsd::store::nowait_vfs {

namespace {

thread_local bool declined = false;
thread_local bool may_wait = false;  // a waiting_allowed lives on this thread

struct policy : sqlite_vfs_passthrough {
    struct file_state {
        bool guarded = false;  // the database or its WAL: read without waiting
        int fd = -1;           // a read-only descriptor of it for RWF_NOWAIT reads; -1: none (declines)
    };

    static void opened(file_state& f, const char* name, int flags) {
        if (name == nullptr || (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) == 0) return;
        f.guarded = true;
        f.fd = ::open(name, O_RDONLY | O_CLOEXEC);
    }
    static void closing(file_state& f, sqlite3_file*) {
        if (f.fd >= 0) ::close(f.fd);
    }

    // Whole from the page cache, or declined. A read that ends past the end of the file is the
    // default VFS's to answer (it fills the rest with zeros, which SQLite expects of a short WAL or
    // a new database), once the bytes before the end were all there: it then reads nothing from
    // the disk either.
    static int read(file_state& f, sqlite3_file* base, void* buffer, int amount, sqlite3_int64 offset) {
        if (!f.guarded || may_wait) return base->pMethods->xRead(base, buffer, amount, offset);
        if (f.fd < 0) return decline();
        iovec io{buffer, static_cast<std::size_t>(amount)};
        const ssize_t n = ::preadv2(f.fd, &io, 1, offset, RWF_NOWAIT);
        if (n == amount) return SQLITE_OK;
        if (n < 0 && errno != EAGAIN) {
            // No RWF_NOWAIT on this file system (EOPNOTSUPP), or the descriptor failed: this file
            // can no longer be read without waiting, so its reads are declined from now on (its
            // lookups all go to the readers).
            ::close(f.fd);
            f.fd = -1;
            return decline();
        }
        if (n >= 0) {
            struct stat st {};
            if (::fstat(f.fd, &st) == 0 && offset + n >= st.st_size)
                return base->pMethods->xRead(base, buffer, amount, offset);
        }
        return decline();
    }
    static int decline() {
        declined = true;
        return SQLITE_IOERR_READ;
    }
};

}  // namespace

const char* name() {
    return sqlite_vfs_shim<policy>::install("jobsd-nowait", false);
}

waiting_allowed::waiting_allowed() noexcept : before_(may_wait) {
    may_wait = true;
}

waiting_allowed::~waiting_allowed() {
    may_wait = before_;
}

bool take_declined() noexcept {
    const bool was = declined;
    declined = false;
    return was;
}

}  // namespace jobsd::store::nowait_vfs

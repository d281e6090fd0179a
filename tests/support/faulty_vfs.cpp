// The default VFS wrapped (store/sqlite_vfs_shim.hpp): WAL writes fail while a fault is armed.
#include "tests/support/faulty_vfs.hpp"

#include <atomic>

#include "store/sqlite_vfs_shim.hpp"

namespace jobsd::test {

namespace {

std::atomic<int> armed{0};
std::atomic<std::size_t> failed{0};

struct policy : store::sqlite_vfs_passthrough {
    struct file_state {
        bool wal = false;
    };

    static void opened(file_state& f, const char*, int flags) { f.wal = (flags & SQLITE_OPEN_WAL) != 0; }
    static int write(file_state& f, sqlite3_file* base, const void* buffer, int n, sqlite3_int64 offset) {
        if (f.wal) {
            int left = armed.load();
            while (left > 0 && !armed.compare_exchange_weak(left, left - 1)) {
            }
            if (left > 0) {
                failed.fetch_add(1);
                return SQLITE_IOERR_WRITE;
            }
        }
        return base->pMethods->xWrite(base, buffer, n, offset);
    }
};

}  // namespace

void faulty_vfs::install() {
    store::sqlite_vfs_shim<policy>::install("jobsd-faulty", true);
}

void faulty_vfs::fail_next_wal_writes(int n) {
    armed.store(n);
}

std::size_t faulty_vfs::failed_writes() {
    return failed.load();
}

}  // namespace jobsd::test

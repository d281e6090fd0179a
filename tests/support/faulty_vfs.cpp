// A shim VFS: every call goes to the real VFS and file, except WAL writes while a fault is armed.
// The real file object lives right after the shim's header (szOsFile covers both).
#include "tests/support/faulty_vfs.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace jobsd::test {

namespace {

std::atomic<int> armed{0};
std::atomic<std::size_t> failed{0};
sqlite3_vfs* real_vfs = nullptr;
sqlite3_vfs shim_vfs;
sqlite3_io_methods shim_methods;

struct shim_file {
    sqlite3_file base;
    bool wal;
    sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

shim_file* shim(sqlite3_file* f) {
    return reinterpret_cast<shim_file*>(f);
}

int x_close(sqlite3_file* f) {
    return shim(f)->real()->pMethods->xClose(shim(f)->real());
}
int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
    return shim(f)->real()->pMethods->xRead(shim(f)->real(), buf, n, off);
}
int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
    if (shim(f)->wal) {
        int left = armed.load();
        while (left > 0 && !armed.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) {
            failed.fetch_add(1);
            return SQLITE_IOERR_WRITE;
        }
    }
    return shim(f)->real()->pMethods->xWrite(shim(f)->real(), buf, n, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
    return shim(f)->real()->pMethods->xTruncate(shim(f)->real(), size);
}
int x_sync(sqlite3_file* f, int flags) {
    return shim(f)->real()->pMethods->xSync(shim(f)->real(), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
    return shim(f)->real()->pMethods->xFileSize(shim(f)->real(), size);
}
int x_lock(sqlite3_file* f, int l) {
    return shim(f)->real()->pMethods->xLock(shim(f)->real(), l);
}
int x_unlock(sqlite3_file* f, int l) {
    return shim(f)->real()->pMethods->xUnlock(shim(f)->real(), l);
}
int x_check_reserved(sqlite3_file* f, int* out) {
    return shim(f)->real()->pMethods->xCheckReservedLock(shim(f)->real(), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
    return shim(f)->real()->pMethods->xFileControl(shim(f)->real(), op, arg);
}
int x_sector_size(sqlite3_file* f) {
    return shim(f)->real()->pMethods->xSectorSize(shim(f)->real());
}
int x_device_characteristics(sqlite3_file* f) {
    return shim(f)->real()->pMethods->xDeviceCharacteristics(shim(f)->real());
}
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** p) {
    return shim(f)->real()->pMethods->xShmMap(shim(f)->real(), region, size, extend, p);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    return shim(f)->real()->pMethods->xShmLock(shim(f)->real(), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) {
    shim(f)->real()->pMethods->xShmBarrier(shim(f)->real());
}
int x_shm_unmap(sqlite3_file* f, int del) {
    return shim(f)->real()->pMethods->xShmUnmap(shim(f)->real(), del);
}
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
    return shim(f)->real()->pMethods->xFetch(shim(f)->real(), off, n, p);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
    return shim(f)->real()->pMethods->xUnfetch(shim(f)->real(), off, p);
}

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    auto* s = shim(f);
    std::memset(s, 0, sizeof(shim_file));
    const int rc = real_vfs->xOpen(real_vfs, name, s->real(), flags, out_flags);
    // The shim's methods only when the real file has some: SQLite calls xClose on any file
    // whose pMethods is set, even after a failed open.
    if (s->real()->pMethods) {
        s->wal = (flags & SQLITE_OPEN_WAL) != 0;
        s->base.pMethods = &shim_methods;
    }
    return rc;
}

}  // namespace

void faulty_vfs::install() {
    static std::once_flag once;
    std::call_once(once, [] {
        real_vfs = sqlite3_vfs_find(nullptr);
        shim_vfs = *real_vfs;
        shim_vfs.zName = "jobsd-faulty";
        shim_vfs.szOsFile = static_cast<int>(sizeof(shim_file)) + real_vfs->szOsFile;
        shim_vfs.xOpen = x_open;
        shim_methods = sqlite3_io_methods{3,
                                          x_close,
                                          x_read,
                                          x_write,
                                          x_truncate,
                                          x_sync,
                                          x_file_size,
                                          x_lock,
                                          x_unlock,
                                          x_check_reserved,
                                          x_file_control,
                                          x_sector_size,
                                          x_device_characteristics,
                                          x_shm_map,
                                          x_shm_lock,
                                          x_shm_barrier,
                                          x_shm_unmap,
                                          x_fetch,
                                          x_unfetch};
        sqlite3_vfs_register(&shim_vfs, 1);
    });
}

void faulty_vfs::fail_next_wal_writes(int n) {
    armed.store(n);
}

std::size_t faulty_vfs::failed_writes() {
    return failed.load();
}

}  // namespace jobsd::test

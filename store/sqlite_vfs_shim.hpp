// A SQLite VFS made of the process's default one: every call goes through to it, except that a
// file's reads and writes go first through `Policy`. For a VFS that changes how some files are
// read or written and nothing else (store/sqlite_nowait_vfs.cpp; a test's failing disk).
//
// Policy derives from sqlite_vfs_passthrough (below) and replaces what it changes:
//   struct file_state;  // kept with each open file
//   static void opened(file_state&, const char* name, int flags);  // the default VFS opened it
//   static void closing(file_state&, sqlite3_file* base);           // before the default VFS closes it
//   static int read(file_state&, sqlite3_file* base, void* buffer, int n, sqlite3_int64 offset);
//   static int write(file_state&, sqlite3_file* base, const void* buffer, int n, sqlite3_int64 offset);
//   static int truncate(file_state&, sqlite3_file* base, sqlite3_int64 size);
//   static int sync(file_state&, sqlite3_file* base, int flags);
//   static int file_size(file_state&, sqlite3_file* base, sqlite3_int64* size);
//   static int shm_lock(file_state&, sqlite3_file* base, int offset, int n, int flags);
// where `base` is the default VFS's file, for the calls the policy passes on.
//
// Thread safety: install() may be called from any thread (the first call registers); the file
// calls are SQLite's, on the threads of the connections that own the files.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace jobsd::store {

// Every file call of a policy passed on unchanged.
struct sqlite_vfs_passthrough {
    struct file_state {};
    static void opened(file_state&, const char*, int) {}
    template <class State>
    static void closing(State&, sqlite3_file*) {}
    template <class State>
    static int read(State&, sqlite3_file* base, void* buffer, int n, sqlite3_int64 offset) {
        return base->pMethods->xRead(base, buffer, n, offset);
    }
    template <class State>
    static int write(State&, sqlite3_file* base, const void* buffer, int n, sqlite3_int64 offset) {
        return base->pMethods->xWrite(base, buffer, n, offset);
    }
    template <class State>
    static int truncate(State&, sqlite3_file* base, sqlite3_int64 size) {
        return base->pMethods->xTruncate(base, size);
    }
    template <class State>
    static int sync(State&, sqlite3_file* base, int flags) {
        return base->pMethods->xSync(base, flags);
    }
    template <class State>
    static int file_size(State&, sqlite3_file* base, sqlite3_int64* size) {
        return base->pMethods->xFileSize(base, size);
    }
    template <class State>
    static int shm_lock(State&, sqlite3_file* base, int offset, int n, int flags) {
        return base->pMethods->xShmLock(base, offset, n, flags);
    }
};

template <class Policy>
class sqlite_vfs_shim {
  public:
    // Registers the VFS as `name` on the first call (as the process's default when `make_default`)
    // and returns its name. Throws std::runtime_error when SQLite refuses.
    static const char* install(const char* name, bool make_default) {
        static std::once_flag once;
        std::call_once(once, [&] {
            base_vfs = sqlite3_vfs_find(nullptr);
            if (base_vfs == nullptr) throw std::runtime_error("SQLite has no default VFS");
            vfs = *base_vfs;
            vfs.zName = name;
            vfs.szOsFile = static_cast<int>(base_offset) + base_vfs->szOsFile;
            vfs.xOpen = x_open;
            vfs.pNext = nullptr;
            if (const int rc = sqlite3_vfs_register(&vfs, make_default ? 1 : 0); rc != SQLITE_OK)
                throw std::runtime_error(std::string("cannot register the SQLite VFS ") + name + ": " +
                                         sqlite3_errstr(rc));
        });
        return vfs.zName;
    }

  private:
    struct file {
        sqlite3_file head;  // head.pMethods = &methods once open
        typename Policy::file_state state;
    };
    // The default VFS's file follows ours in the allocation SQLite makes of vfs.szOsFile bytes.
    static constexpr std::size_t base_offset = (sizeof(file) + 15) & ~std::size_t{15};

    static file* ours(sqlite3_file* f) { return reinterpret_cast<file*>(f); }
    static sqlite3_file* base(sqlite3_file* f) {
        return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + base_offset);
    }
    static const sqlite3_io_methods& on(sqlite3_file* f) { return *base(f)->pMethods; }

    static int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
        f->pMethods = nullptr;  // SQLite calls no method of a file whose open failed
        const int rc = base_vfs->xOpen(base_vfs, name, base(f), flags, out_flags);
        if (base(f)->pMethods == nullptr) return rc;
        // Methods below version 3 lack the shared memory calls a WAL database makes.
        if (base(f)->pMethods->iVersion < 3) {
            base(f)->pMethods->xClose(base(f));
            return SQLITE_CANTOPEN;
        }
        auto* state = new (&ours(f)->state) typename Policy::file_state{};
        Policy::opened(*state, name, flags);
        f->pMethods = &methods;
        return rc;
    }
    static int x_close(sqlite3_file* f) {
        Policy::closing(ours(f)->state, base(f));
        ours(f)->state.~file_state();
        return on(f).xClose(base(f));
    }
    static int x_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
        return Policy::read(ours(f)->state, base(f), p, n, off);
    }
    static int x_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
        return Policy::write(ours(f)->state, base(f), p, n, off);
    }
    static int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
        return Policy::truncate(ours(f)->state, base(f), size);
    }
    static int x_sync(sqlite3_file* f, int flags) { return Policy::sync(ours(f)->state, base(f), flags); }
    static int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
        return Policy::file_size(ours(f)->state, base(f), size);
    }
    static int x_lock(sqlite3_file* f, int level) { return on(f).xLock(base(f), level); }
    static int x_unlock(sqlite3_file* f, int level) { return on(f).xUnlock(base(f), level); }
    static int x_check_reserved_lock(sqlite3_file* f, int* out) {
        return on(f).xCheckReservedLock(base(f), out);
    }
    static int x_file_control(sqlite3_file* f, int op, void* arg) {
        return on(f).xFileControl(base(f), op, arg);
    }
    static int x_sector_size(sqlite3_file* f) { return on(f).xSectorSize(base(f)); }
    static int x_device_characteristics(sqlite3_file* f) { return on(f).xDeviceCharacteristics(base(f)); }
    static int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** p) {
        return on(f).xShmMap(base(f), region, size, extend, p);
    }
    static int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
        return Policy::shm_lock(ours(f)->state, base(f), offset, n, flags);
    }
    static void x_shm_barrier(sqlite3_file* f) { on(f).xShmBarrier(base(f)); }
    static int x_shm_unmap(sqlite3_file* f, int remove) { return on(f).xShmUnmap(base(f), remove); }
    static int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
        return on(f).xFetch(base(f), off, n, p);
    }
    static int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
        return on(f).xUnfetch(base(f), off, p);
    }

    static constexpr sqlite3_io_methods methods{3,
                                                x_close,
                                                x_read,
                                                x_write,
                                                x_truncate,
                                                x_sync,
                                                x_file_size,
                                                x_lock,
                                                x_unlock,
                                                x_check_reserved_lock,
                                                x_file_control,
                                                x_sector_size,
                                                x_device_characteristics,
                                                x_shm_map,
                                                x_shm_lock,
                                                x_shm_barrier,
                                                x_shm_unmap,
                                                x_fetch,
                                                x_unfetch};
    static inline sqlite3_vfs* base_vfs = nullptr;
    static inline sqlite3_vfs vfs{};
};

}  // namespace jobsd::store

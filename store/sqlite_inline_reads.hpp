// Lookups of one job run on the thread that asks (an io thread) instead of a reader thread, so a
// GET /jobs/:id costs no hop to a reader and back. They never make that thread wait:
// - a connection is borrowed only when one is free (try_lock);
// - a lock on the database fails the read at once (busy timeout 0);
// - data the page cache does not hold is not read from the disk (store/sqlite_nowait_vfs.hpp).
// In each case the lookup is declined, and the caller queues it for a reader as before.
//
// Thread safety: try_run() may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

namespace jobsd::store {

struct sqlite_reader_ctx;  // store/sqlite_ops.hpp
struct sqlite_read_op;

class sqlite_inline_reads {
  public:
    // Opens `connections` read-only connections to the database at `path`. Throws sqlite_error
    // when one cannot be opened.
    sqlite_inline_reads(const std::filesystem::path& path, std::size_t connections);
    ~sqlite_inline_reads();

    // Runs `op` (a point read) here and completes it, or returns false having done nothing
    // with it, for the caller to queue.
    bool try_run(sqlite_read_op& op);

    std::uint64_t ran() const noexcept { return ran_.load(std::memory_order_relaxed); }
    std::uint64_t declined() const noexcept { return declined_.load(std::memory_order_relaxed); }

  private:
    struct slot {
        std::mutex busy;
        std::unique_ptr<sqlite_reader_ctx> ctx;
    };
    std::vector<std::unique_ptr<slot>> slots_;
    std::atomic<std::size_t> next_{0};  // where the next borrower starts looking
    std::atomic<std::uint64_t> ran_{0}, declined_{0};
};

}  // namespace jobsd::store

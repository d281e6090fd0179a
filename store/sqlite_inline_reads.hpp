// Lookups of one job run on the io thread that asks for them, batched per turn of its event loop,
// instead of on a reader thread: a GET /jobs/:id costs no hop to a reader and back. The lookups an
// io thread is asked for while it works through one batch of ready events are run together, in
// one read transaction on that thread's own connection, by a handler posted behind them. So each
// lookup's snapshot begins after it was asked (it sees every write acknowledged before), and one
// transaction serves them all: a transaction per lookup made the io threads contend for SQLite's
// WAL mutex and cost more than the hop (bench/RESULTS.md).
//
// They never make the io thread wait:
// - a lock on the database fails the read at once (busy timeout 0);
// - data the page cache does not hold is not read from the disk (store/sqlite_nowait_vfs.hpp).
// A lookup that would wait goes to a reader instead, as does one asked on a thread that is not
// running the io_context its completion goes to, or on an io thread beyond the `lanes` first.
//
// Thread safety: take() may be called from any thread. A lane is its io thread's alone, except
// that the destructor closes it under its lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace jobsd::store {

struct sqlite_read_op;  // store/sqlite_ops.hpp

class sqlite_inline_reads {
  public:
    // Where a lookup goes that is not run here: the store's reader queue.
    using to_reader = std::function<void(std::unique_ptr<sqlite_read_op>)>;

    // Opens `lanes` read-only connections to the database at `path` (throws sqlite_error when one
    // cannot be opened); each goes to the first io thread that asks, for good.
    sqlite_inline_reads(const std::filesystem::path& path, std::size_t lanes, to_reader queue);
    // Lookups of a turn not yet run are answered store_errc::closed; a turn's handler that runs
    // afterwards does nothing.
    ~sqlite_inline_reads();

    // Takes `op` (a point read) when the calling thread is running the io_context its completion
    // goes to: it is then run at the end of this turn. False, with `op` untouched, otherwise.
    bool take(std::unique_ptr<sqlite_read_op>& op);

    // Lookups run on an io thread, and those that went to a reader after trying (they would have
    // waited).
    std::uint64_t ran() const noexcept { return ran_.load(std::memory_order_relaxed); }
    std::uint64_t declined() const noexcept { return declined_.load(std::memory_order_relaxed); }

    struct lane;  // store/sqlite_inline_reads.cpp

  private:
    std::shared_ptr<lane> lane_of_this_thread();

    const std::uint64_t id_;  // never reused: a thread's cached lane of a destroyed store never matches
    const to_reader queue_;
    std::mutex mu_;  // guards lanes_
    // Each lane with the io thread it went to (none yet: the default id).
    std::vector<std::pair<std::thread::id, std::shared_ptr<lane>>> lanes_;
    std::atomic<std::uint64_t> ran_{0}, declined_{0};
};

}  // namespace jobsd::store

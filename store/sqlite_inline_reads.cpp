#include "store/sqlite_inline_reads.hpp"

#include "store/sqlite_nowait_vfs.hpp"
#include "store/sqlite_ops.hpp"

namespace jobsd::store {

sqlite_inline_reads::sqlite_inline_reads(const std::filesystem::path& path, std::size_t connections) {
    const char* vfs = nowait_vfs::name();
    for (std::size_t i = 0; i < connections; ++i) {
        auto s = std::make_unique<slot>();
        s->ctx = std::make_unique<sqlite_reader_ctx>(path, vfs);
        sqlite3_busy_timeout(s->ctx->db.handle(), 0);
        slots_.push_back(std::move(s));
    }
}

sqlite_inline_reads::~sqlite_inline_reads() = default;

bool sqlite_inline_reads::try_run(sqlite_read_op& op) {
    if (slots_.empty()) return false;
    const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        slot& s = *slots_[(start + i) % slots_.size()];
        std::unique_lock lock(s.busy, std::try_to_lock);
        if (!lock) continue;
        const bool read = op.read_without_waiting(*s.ctx);
        lock.unlock();
        if (!read) break;
        ran_.fetch_add(1, std::memory_order_relaxed);
        // Completed after the connection is given back: the completion may run the waiting
        // coroutine here, and that may look up another job.
        op.complete_read();
        return true;
    }
    declined_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

}  // namespace jobsd::store

#include "store/sqlite_inline_reads.hpp"

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <iterator>
#include <utility>

#include "store/sqlite_nowait_vfs.hpp"
#include "store/sqlite_ops.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace asio = boost::asio;

struct sqlite_inline_reads::lane {
    std::mutex mu;  // the io thread's, and the destructor's when it closes the lane
    bool closed = false;
    std::unique_ptr<sqlite_reader_ctx> ctx;              // null once closed
    std::vector<std::unique_ptr<sqlite_read_op>> asked;  // this turn's, in the order asked
    // The owner's, valid while the lane is open.
    const to_reader* queue = nullptr;
    std::atomic<std::uint64_t>* ran = nullptr;
    std::atomic<std::uint64_t>* declined = nullptr;
};

namespace {

std::atomic<std::uint64_t> next_id{1};

// The io_context the executor is one of, when the calling thread is running it. Handlers carry
// the io_context's executor with any of its property bits (outstanding work tracked, mostly).
template <unsigned... Bits>
asio::io_context* running_context(const asio::any_completion_executor& ex,
                                  std::integer_sequence<unsigned, Bits...>) {
    asio::io_context* io = nullptr;
    ((io = io ? io : [&]() -> asio::io_context* {
         auto* t = ex.target<asio::io_context::basic_executor_type<std::allocator<void>, Bits>>();
         return t ? &t->context() : nullptr;
     }()),
     ...);
    return io && io->get_executor().running_in_this_thread() ? io : nullptr;
}

// Runs the lookups asked during the turn: one read transaction, each lookup in the order asked.
// The first that would wait goes to a reader with those after it (an I/O error may have ended the
// transaction). Completions run after the lane's lock is released: one may resume a coroutine
// that asks for another lookup.
void run_turn(const std::shared_ptr<sqlite_inline_reads::lane>& l) {
    std::vector<std::unique_ptr<sqlite_read_op>> asked, done;
    {
        std::lock_guard lock(l->mu);
        asked.swap(l->asked);
        if (l->closed) return;  // the destructor answered them
        auto& db = l->ctx->db;
        const bool shared = asked.size() > 1 && db.cached("BEGIN").run() == SQLITE_DONE;
        std::size_t i = 0;
        while (i < asked.size() && asked[i]->read_without_waiting(*l->ctx))
            done.push_back(std::move(asked[i++]));
        if (shared && !sqlite3_get_autocommit(db.handle()) && db.cached("COMMIT").run() != SQLITE_DONE)
            db.cached("ROLLBACK").run();
        l->ran->fetch_add(done.size(), std::memory_order_relaxed);
        l->declined->fetch_add(asked.size() - i, std::memory_order_relaxed);
        for (; i < asked.size(); ++i) (*l->queue)(std::move(asked[i]));
    }
    for (auto& op : done) op->complete_read();
}

}  // namespace

sqlite_inline_reads::sqlite_inline_reads(const std::filesystem::path& path, std::size_t lanes,
                                         to_reader queue)
    : id_(next_id.fetch_add(1)), queue_(std::move(queue)) {
    // Opened here, off the io threads: opening reads the schema, which may have to wait.
    const nowait_vfs::waiting_allowed opening;
    for (std::size_t i = 0; i < lanes; ++i) {
        auto l = std::make_shared<lane>();
        l->ctx = std::make_unique<sqlite_reader_ctx>(path, nowait_vfs::name());
        sqlite3_busy_timeout(l->ctx->db.handle(), 0);
        l->queue = &queue_;
        l->ran = &ran_;
        l->declined = &declined_;
        lanes_.emplace_back(std::thread::id{}, std::move(l));
    }
}

sqlite_inline_reads::~sqlite_inline_reads() {
    // Answered after every lock is released, like a turn's: a completion may run here.
    std::vector<std::unique_ptr<sqlite_read_op>> pending;
    {
        std::lock_guard lock(mu_);
        for (auto& [thread, l] : lanes_) {
            std::lock_guard lane_lock(l->mu);
            l->closed = true;
            l->ctx.reset();
            std::move(l->asked.begin(), l->asked.end(), std::back_inserter(pending));
            l->asked.clear();
        }
    }
    for (auto& op : pending) op->fail(store_errc::closed);
}

std::shared_ptr<sqlite_inline_reads::lane> sqlite_inline_reads::lane_of_this_thread() {
    // One cached lane per thread: an io thread serves one store.
    struct cached {
        std::uint64_t owner = 0;
        std::shared_ptr<lane> l;
    };
    thread_local cached mine;
    if (mine.owner == id_) return mine.l;
    const auto me = std::this_thread::get_id();
    std::lock_guard lock(mu_);
    for (auto& [thread, l] : lanes_)
        if (thread == me) return (mine = {id_, l}).l;
    for (auto& [thread, l] : lanes_)
        if (thread == std::thread::id{}) {
            thread = me;
            return (mine = {id_, l}).l;
        }
    // Past the last lane this thread's lookups go to the readers (remembered: it does not ask again).
    return (mine = {id_, nullptr}).l;
}

bool sqlite_inline_reads::take(std::unique_ptr<sqlite_read_op>& op) {
    asio::io_context* io = running_context(op->executor(), std::make_integer_sequence<unsigned, 8>{});
    if (io == nullptr) return false;
    auto l = lane_of_this_thread();
    if (!l) return false;
    {
        std::lock_guard lock(l->mu);
        if (l->closed) return false;
        l->asked.push_back(std::move(op));
        if (l->asked.size() > 1) return true;  // its turn's handler is already posted
    }
    asio::post(*io, [l = std::move(l)] { run_turn(l); });
    return true;
}

}  // namespace jobsd::store

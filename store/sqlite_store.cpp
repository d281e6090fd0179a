// The SQLite store's threads and its public face. Group commit: the writer takes every write
// queued at that moment (up to batch_max) into one BEGIN IMMEDIATE … COMMIT, then completes
// each waiter with its own row's outcome; a reader takes a run of point lookups (up to
// read_run_max, in one read transaction) or one other read at a time. The operations themselves
// are in sqlite_write_ops.cpp and sqlite_read_ops.cpp.
#include "store/sqlite_store.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <future>

#include "model/clock.hpp"
#include "store/completion.hpp"
#include "store/sqlite_inline_reads.hpp"
#include "store/sqlite_ops.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_session_index.hpp"
#include "store/sqlite_wal_gather_vfs.hpp"
#include "store/sqlite_webhook_store.hpp"
#include "store/store_error.hpp"
#include "store/task_queue.hpp"

namespace jobsd::store {

namespace asio = boost::asio;

struct sqlite_store::queues {
    queues(std::size_t writes, std::size_t reads) : write(writes), read(reads) {}
    task_queue<std::unique_ptr<sqlite_write_op>> write;
    task_queue<std::unique_ptr<sqlite_read_op>> read;
    std::unique_ptr<sqlite_writer_ctx> writer;  // handed to the writer thread at start
};

namespace {

// Lookups one reader takes in one wake and one read transaction at most: enough to empty the
// queue under a busy server's GETs, few enough that its other readers still get a share.
constexpr std::size_t read_run_max = 32;

template <class Op>
error_code push_error(typename task_queue<std::unique_ptr<Op>>::push_result r) {
    using result = typename task_queue<std::unique_ptr<Op>>::push_result;
    return r == result::full ? error_code(store_errc::busy) : error_code(store_errc::closed);
}

// Runs one op inside its own savepoint, so a failing op leaves none of its writes behind (an op
// that leaves none without one, a single create, runs without). False when SQLite rolled the
// whole transaction back by itself (an I/O error, a full disk, no memory) or the op threw: the
// ops before it are undone too, and nothing more may run in autocommit.
bool run_op(sqlite_writer_ctx& w, sqlite_write_op& op, error_code& outcome) {
    const bool savepoint = op.needs_savepoint();
    if (savepoint && w.savepoint.run() != SQLITE_DONE) {
        spdlog::error("store: SAVEPOINT failed: {}", w.db->error_message());
        outcome = store_errc::io;
        return !sqlite3_get_autocommit(w.db->handle());
    }
    try {
        outcome = op.execute(w);
    } catch (const std::exception& e) {
        // An op that cannot answer for its own rows any more fails the whole transaction.
        spdlog::error("store: write batch abandoned: {}", e.what());
        return false;
    }
    if (sqlite3_get_autocommit(w.db->handle())) {
        spdlog::error(
            "store: SQLite rolled the transaction back after a failed statement; the whole batch fails");
        return false;
    }
    if (!savepoint) return true;
    if (outcome && w.rollback_to.run() != SQLITE_DONE) return false;
    return w.release.run() == SQLITE_DONE;
}

// Runs one batch in one transaction; the outcome of each op, or the transaction's failure
// (then nothing of the batch is committed). A write lock held by another process (jobsctl,
// a backup) past the busy timeout makes the batch fail with busy: answered 503, tried anew
// by the next batch.
error_code run_batch(sqlite_writer_ctx& w, std::vector<std::unique_ptr<sqlite_write_op>>& batch,
                     std::vector<error_code>& outcome, sqlite_session_index& sessions) {
    int rc = w.begin.run();
    if (rc != SQLITE_DONE) {
        const bool busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
        spdlog::log(busy ? spdlog::level::warn : spdlog::level::err, "store: BEGIN failed: {}",
                    w.db->error_message());
        return busy ? store_errc::busy : store_errc::io;
    }
    sessions.collect();  // before the ops: only jobs already committed
    for (std::size_t i = 0; i < batch.size(); ++i)
        if (!run_op(w, *batch[i], outcome[i])) {
            if (!sqlite3_get_autocommit(w.db->handle())) w.rollback.run();
            return store_errc::io;
        }
    // A slice of the sessions' index rides on this transaction when due: its own savepoint, so a
    // failure of it leaves the batch's jobs committed (and read by seq until the index holds them).
    if (sessions.due(std::chrono::steady_clock::now())) {
        error_code indexed;
        if (!run_op(w, sessions, indexed)) {
            sessions.finish(store_errc::io);
            if (!sqlite3_get_autocommit(w.db->handle())) w.rollback.run();
            return store_errc::io;
        }
        rc = w.commit.run();
        sessions.finish(rc == SQLITE_DONE ? indexed : error_code(store_errc::io));
    } else {
        rc = w.commit.run();
    }
    if (rc != SQLITE_DONE) {
        spdlog::error("store: COMMIT failed: {}", w.db->error_message());
        if (!sqlite3_get_autocommit(w.db->handle())) w.rollback.run();
        return (rc & 0xff) == SQLITE_BUSY ? store_errc::busy : store_errc::io;
    }
    return {};
}

}  // namespace

sqlite_store::sqlite_store(sqlite_options options, store_options common)
    : options_(std::move(options)),
      common_(common),
      queues_(std::make_unique<queues>(common_.write_queue_max, common_.read_queue_max)) {
    if (options_.path.has_parent_path()) std::filesystem::create_directories(options_.path.parent_path());
    // Under FULL every commit syncs the WAL before other connections may read it, so the writer's
    // frames can be gathered into one write per commit (store/sqlite_wal_gather_vfs.hpp): 65 →
    // 1 pwrite64 a transaction at ingest (bench/RESULTS.md).
    auto db = std::make_unique<sqlite_db>(options_.path, sqlite_db::mode::read_write,
                                          options_.synchronous_full ? wal_gather_vfs::name() : nullptr);
    db->exec("PRAGMA journal_mode = WAL");
    db->exec(options_.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    // The writer's statement and savepoint journals (every op but a create runs in a savepoint;
    // a status change's INSERT … SELECT of its deliveries needs a statement journal) are kept in
    // memory. In a temporary file they cost the writer a pwrite per journalled page: 14 → 30 KB
    // written per job end to end with webhooks on (bench/RESULTS.md). They hold at most the pages
    // one op changes, and are gone at its RELEASE.
    db->exec("PRAGMA temp_store = MEMORY");
    sqlite3_busy_timeout(db->handle(), static_cast<int>(options_.busy_timeout.count()));
    migrate_sqlite(*db);
    queues_->writer = std::make_unique<sqlite_writer_ctx>(std::move(db), common_);
    if (options_.inline_readers > 0)  // after the migration: they prepare statements on its tables
        inline_reads_ = std::make_unique<sqlite_inline_reads>(
            options_.path, options_.inline_readers,
            [this](std::unique_ptr<sqlite_read_op> op) { submit_read(std::move(op)); });
    writer_ = std::thread([this] {
        ::pthread_setname_np(::pthread_self(), "jobsd-writer");
        writer_loop();
    });
    const std::size_t readers = std::max<std::size_t>(1, options_.readers);
    for (std::size_t i = 0; i < readers; ++i)
        readers_.emplace_back([this] {
            ::pthread_setname_np(::pthread_self(), "jobsd-reader");
            reader_loop();
        });
    webhooks_ = std::make_unique<sqlite_webhook_store>(
        [this](std::unique_ptr<sqlite_write_op> op) { submit_write(std::move(op)); },
        [this](std::unique_ptr<sqlite_read_op> op) { submit_read(std::move(op)); });
}

sqlite_store::~sqlite_store() {
    inline_reads_.reset();  // a turn not yet run is answered closed; none queues to a reader after
    queues_->write.close();
    queues_->read.close();
    writer_.join();
    for (auto& t : readers_) t.join();
}

void sqlite_store::writer_loop() {
    sqlite_writer_ctx& w = *queues_->writer;
    sqlite_session_index sessions(*w.db, options_.session_index_rows, options_.session_index_interval);
    for (;;) {
        auto batch = queues_->write.pop_batch(common_.batch_max, options_.batch_wait);
        if (batch.empty()) return;  // closed and drained
        std::vector<error_code> outcome(batch.size());
        const error_code txn_error = run_batch(w, batch, outcome, sessions);
        if (txn_error != store_errc::busy) last_write_ok_.store(!txn_error, std::memory_order_relaxed);
        if (!txn_error) {
            std::uint64_t jobs = 0;
            bool wrote = false;
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (!outcome[i]) jobs += batch[i]->jobs();
                wrote = wrote || batch[i]->wrote();
            }
            if (wrote) transactions_.fetch_add(1, std::memory_order_relaxed);
            jobs_committed_.fetch_add(jobs, std::memory_order_relaxed);
        }
        completion_batch answers;  // one hand-over per io thread for the whole batch
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->finish(txn_error ? txn_error : outcome[i]);
    }
}

void sqlite_store::reader_loop() {
    std::unique_ptr<sqlite_reader_ctx> ctx;
    try {
        ctx = std::make_unique<sqlite_reader_ctx>(options_.path);
    } catch (const std::exception& e) {
        spdlog::error("store: reader cannot open the database: {}", e.what());
    }
    bool returning = false;
    for (;;) {
        auto run = queues_->read.pop_run(
            read_run_max, [](const auto& op) { return op->point_read(); }, returning);
        if (run.empty()) return;
        if (!ctx) {
            for (auto& op : run) op->fail(store_errc::io);
            continue;
        }
        // Every lookup of the run was queued before this snapshot begins, so each sees every
        // write acknowledged before it was asked for.
        const bool shared = run.size() > 1 && ctx->db.cached("BEGIN").run() == SQLITE_DONE;
        completion_batch answers;  // handed over as the run ends
        for (auto& op : run) op->run(*ctx);
        if (shared && ctx->db.cached("COMMIT").run() != SQLITE_DONE) ctx->db.cached("ROLLBACK").run();
    }
}

void sqlite_store::submit_write(std::unique_ptr<sqlite_write_op> op) {
    const auto r = queues_->write.push(std::move(op));
    if (r != task_queue<std::unique_ptr<sqlite_write_op>>::push_result::ok)
        op->finish(push_error<sqlite_write_op>(r));
}

void sqlite_store::submit_read(std::unique_ptr<sqlite_read_op> op) {
    const auto r = queues_->read.push(std::move(op));
    if (r != task_queue<std::unique_ptr<sqlite_read_op>>::push_result::ok)
        op->fail(push_error<sqlite_read_op>(r));
}

void sqlite_store::submit_point_read(std::unique_ptr<sqlite_read_op> op) {
    if (inline_reads_ && inline_reads_->take(op)) return;
    submit_read(std::move(op));
}

void sqlite_store::create_job(job_record job, asio::any_completion_handler<void(error_code)> handler) {
    if (creates_stopped_.load()) return complete(std::move(handler), error_code(store_errc::closed));
    submit_write(sqlite_ops::make_insert_job_op(std::move(job), std::move(handler)));
}

void sqlite_store::create_jobs(std::vector<job_record> jobs,
                               asio::any_completion_handler<void(error_code)> handler) {
    if (jobs.empty()) {
        complete(std::move(handler), error_code{});
        return;
    }
    submit_write(sqlite_ops::make_insert_jobs_op(std::move(jobs), std::move(handler)));
}

void sqlite_store::list_jobs(
    job_query query, asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit_read(sqlite_ops::make_list_jobs_op(std::move(query), std::move(handler)));
}

void sqlite_store::list_batch(
    std::string account_id, std::string batch_id,
    asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit_read(
        sqlite_ops::make_list_batch_op(std::move(account_id), std::move(batch_id), std::move(handler)));
}

void sqlite_store::stop_creating() {
    creates_stopped_.store(true);
    for (auto& op : queues_->write.remove_if([](const auto& op) { return op->jobs() > 0; }))
        op->finish(store_errc::closed);
}

void sqlite_store::mark_published(std::vector<model::job_attempt> published,
                                  asio::any_completion_handler<void(error_code)> handler) {
    submit_write(sqlite_ops::make_mark_published_op(std::move(published), std::move(handler)));
}

void sqlite_store::renew_claims(
    std::vector<std::string> uuids,
    asio::any_completion_handler<void(error_code, std::vector<std::string>)> handler) {
    complete(std::move(handler), error_code{}, std::move(uuids));  // one instance: no leases to renew
}

std::chrono::milliseconds sqlite_store::claim_lease() const noexcept {
    return std::chrono::milliseconds::zero();
}

void sqlite_store::apply_events(
    std::vector<model::job_event> events,
    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler) {
    submit_write(sqlite_ops::make_apply_events_op(std::move(events), events_applied_, webhooks_.get(),
                                                  std::move(handler)));
}

void sqlite_store::claim_unpublished(
    std::int64_t after_seq, std::size_t limit,
    asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler) {
    submit_read(sqlite_ops::make_list_unpublished_op(after_seq, limit, std::move(handler)));
}

void sqlite_store::read_outbox_stats(outbox_detail detail,
                                     asio::any_completion_handler<void(error_code, outbox_stats)> handler) {
    submit_read(sqlite_ops::make_outbox_stats_op(detail, std::move(handler)));
}

void sqlite_store::count_jobs(
    asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) {
    submit_read(sqlite_ops::make_count_jobs_op(std::move(handler)));
}

void sqlite_store::list_recent_jobs(
    std::size_t limit, asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit_read(sqlite_ops::make_recent_jobs_op(limit, std::move(handler)));
}

void sqlite_store::find_job(
    std::string account_id, std::string uuid,
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    submit_point_read(
        sqlite_ops::make_find_job_op(std::move(account_id), std::move(uuid), std::move(handler)));
}

void sqlite_store::find_by_idempotency_key(
    std::string account_id, std::string key,
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    const std::int64_t since_ms = model::now_ms() - common_.idempotency_window.count();
    submit_point_read(
        sqlite_ops::make_find_by_key_op(std::move(account_id), std::move(key), since_ms, std::move(handler)));
}

void sqlite_store::load_catalog(asio::any_completion_handler<void(error_code, catalog_ptr)> handler) {
    submit_read(sqlite_ops::make_load_catalog_op(std::move(handler)));
}

void sqlite_store::cancel_job(std::string account_id, std::string uuid, std::int64_t now_ms,
                              asio::any_completion_handler<void(error_code, cancel_outcome)> handler) {
    submit_write(sqlite_ops::make_cancel_job_op(std::move(account_id), std::move(uuid), now_ms,
                                                webhooks_.get(), std::move(handler)));
}

void sqlite_store::retry_job(std::string account_id, std::string uuid,
                             std::optional<std::int64_t> expires_in_ms, std::int64_t now_ms,
                             asio::any_completion_handler<void(error_code, retry_outcome)> handler) {
    submit_write(sqlite_ops::make_retry_job_op(std::move(account_id), std::move(uuid), expires_in_ms, now_ms,
                                               std::move(handler)));
}

void sqlite_store::sweep_lifecycle(sweep_request request,
                                   asio::any_completion_handler<void(error_code, lifecycle_sweep)> handler) {
    submit_write(sqlite_ops::make_sweep_op(std::move(request), webhooks_.get(), std::move(handler)));
}

void sqlite_store::release_held(
    model::job_type type, std::size_t limit,
    asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit_write(sqlite_ops::make_release_held_op(type, limit, std::move(handler)));
}

void sqlite_store::list_control_messages(
    std::size_t limit, asio::any_completion_handler<void(error_code, std::vector<control_entry>)> handler) {
    submit_read(sqlite_ops::make_list_controls_op(limit, std::move(handler)));
}

void sqlite_store::remove_control_messages(std::vector<std::int64_t> seqs,
                                           asio::any_completion_handler<void(error_code)> handler) {
    submit_write(sqlite_ops::make_remove_controls_op(std::move(seqs), std::move(handler)));
}

void sqlite_store::list_stuck_jobs(
    std::array<std::int64_t, model::all_job_types.size()> updated_before_ms, std::size_t limit,
    asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit_read(sqlite_ops::make_stuck_jobs_op(updated_before_ms, limit, std::move(handler)));
}

void sqlite_store::apply_seed(const seed_data& seed) {
    std::future<void> settled;
    auto op = sqlite_ops::make_seed_op(seed, settled);
    const auto r = queues_->write.push(std::move(op));
    if (r != task_queue<std::unique_ptr<sqlite_write_op>>::push_result::ok)
        throw std::runtime_error("seed could not be queued: " + push_error<sqlite_write_op>(r).message());
    settled.get();  // rethrows the seed's failure
}

store_stats sqlite_store::stats() const {
    store_stats s{transactions_.load(std::memory_order_relaxed),
                  jobs_committed_.load(std::memory_order_relaxed),
                  queues_->write.size(),
                  events_applied_.load(std::memory_order_relaxed),
                  common_.write_queue_max,
                  last_write_ok_.load(std::memory_order_relaxed)};
    if (inline_reads_) {
        s.lookups_inline = inline_reads_->ran();
        s.lookups_declined = inline_reads_->declined();
    }
    return s;
}

}  // namespace jobsd::store

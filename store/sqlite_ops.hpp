// Inside the SQLite adapter: the operations its threads run and the connections they run on.
// The writer runs every write op of a batch inside one transaction, then finishes each; a
// reader runs one read op at a time on its own read-only connection. Not for use elsewhere.
//
// Thread safety: a context belongs to the thread that runs it. An op is run and then completed
// exactly once (finish or fail), by whichever thread holds it; its completion hands the result
// to the waiter's executor (store/completion.hpp).
#pragma once

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

#include <exception>

#include "store/completion.hpp"
#include "store/delivery_board.hpp"
#include "store/sqlite_db.hpp"
#include "store/store.hpp"
#include "store/store_error.hpp"
#include "store/store_options.hpp"

namespace jobsd::store {

class sqlite_webhook_store;  // store/sqlite_webhook_store.hpp

// The writer thread's read-write connection and the statements every batch reuses.
struct sqlite_writer_ctx {
    sqlite_writer_ctx(std::unique_ptr<sqlite_db> d, const store_options& common);
    std::unique_ptr<sqlite_db> db;
    // The transaction and one savepoint per op (sqlite_store.cpp), then the ops' statements.
    // insert_jobs_op nests one more of the same name: ROLLBACK TO and RELEASE take the innermost.
    sqlite_statement begin, commit, rollback, savepoint, release, rollback_to, insert_job, enter_outbox,
        release_key, record_delivery;
    const std::int64_t idempotency_window_ms;  // store_options::idempotency_window
    const model::lifecycle_policy policy;      // store_options::lifecycle
};

// One reader thread's read-only connection and its hot statements; also an io thread's own
// connection for its lookups, opened through store/sqlite_nowait_vfs.hpp.
struct sqlite_reader_ctx {
    explicit sqlite_reader_ctx(const std::filesystem::path& path, const char* vfs = nullptr);
    sqlite_db db;
    sqlite_statement find_job, find_by_key, list_unpublished, list_batch;
    // Job lists by their SQL text: one statement per query shape, a few dozen at most.
    std::unordered_map<std::string, std::unique_ptr<sqlite_statement>> list_jobs;
};

struct sqlite_write_op {
    virtual ~sqlite_write_op() = default;
    // Runs inside the open transaction. A failure returned here is this operation's alone.
    virtual error_code execute(sqlite_writer_ctx& w) = 0;
    // Called once after the transaction ended (or instead of it), with the outcome.
    virtual void finish(error_code ec) = 0;
    // Jobs this operation commits when it succeeds (for store_stats).
    virtual std::uint64_t jobs() const { return 0; }
    // False when it ran and wrote nothing (the periodic lifecycle sweep with nothing due): a batch
    // of such operations alone is not counted as a write transaction. Asked before finish().
    virtual bool wrote() const { return true; }
    // False for an operation whose failure leaves nothing of its own behind without a savepoint:
    // it fails before its first write (a constraint of its one row), or throws, failing the whole
    // transaction. A savepoint copies every page the operation changes into its journal first.
    virtual bool needs_savepoint() const { return true; }
};

struct sqlite_read_op {
    virtual ~sqlite_read_op() = default;
    // Runs and completes the operation; never throws.
    virtual void run(sqlite_reader_ctx& r) = 0;
    // Completes it with `ec` instead (queue full or closed, no connection).
    virtual void fail(error_code ec) = 0;
    // True for a lookup of one row by an index: a reader runs a run of these in one read
    // transaction (one snapshot and one set of WAL locks, one wake of the thread).
    virtual bool point_read() const { return false; }
    // For a lookup that may run on the asking io thread (store/sqlite_inline_reads.hpp): reads
    // without completing, on a connection that declines to wait. False when it declined (a lock,
    // or data the page cache does not hold): nothing is kept, and the op is then run() or
    // fail()ed as usual. After true, complete_read() completes it with what was read.
    virtual bool read_without_waiting(sqlite_reader_ctx&) { return false; }
    virtual void complete_read() {}
    // The executor its completion runs on (an io thread's, for a lookup that may run there).
    virtual boost::asio::any_completion_executor executor() const { return {}; }
};

template <class... Values>
using sqlite_handler = boost::asio::any_completion_handler<void(error_code, Values...)>;

// A read that prepares its statement per call (operator views, metrics: cached by the caller)
// and reports any failure as store_errc::io. `Derived::read(db)` returns the value.
template <class Derived, class Value>
struct occasional_read : sqlite_read_op {
    explicit occasional_read(sqlite_handler<Value> h) : handler(std::move(h)) {}

    void run(sqlite_reader_ctx& r) override {
        Value value{};
        try {
            // Read before completing: the handler must still be ours should the read throw.
            value = static_cast<Derived*>(this)->read(r.db);
        } catch (const std::exception& e) {
            spdlog::error("store: {} failed: {}", Derived::what, e.what());
            complete(std::move(handler), error_code(store_errc::io), Value{});
            return;
        }
        complete(std::move(handler), error_code{}, std::move(value));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, Value{}); }

    sqlite_handler<Value> handler;
};

// The operations, one factory each; named sqlite_ops:: so that the two adapters' factories of
// the same signature stay apart.
namespace sqlite_ops {

// Writes (sqlite_write_ops.cpp; applying events: sqlite_event_ops.cpp). Applied events are added
// to `applied_counter` on commit, and the webhook deliveries they recorded handed over to
// `webhooks` (may be null).
std::unique_ptr<sqlite_write_op> make_insert_job_op(job_record job, sqlite_handler<> handler);
// All the jobs or none (a savepoint inside the batch's transaction).
std::unique_ptr<sqlite_write_op> make_insert_jobs_op(std::vector<job_record> jobs, sqlite_handler<> handler);
std::unique_ptr<sqlite_write_op> make_mark_published_op(std::vector<model::job_attempt> published,
                                                        sqlite_handler<> handler);
std::unique_ptr<sqlite_write_op> make_apply_events_op(std::vector<model::job_event> events,
                                                      std::atomic<std::uint64_t>& applied_counter,
                                                      sqlite_webhook_store* webhooks,
                                                      sqlite_handler<std::vector<applied_event>> handler);
// Where a job's webhook deliveries go: one of its account's enabled endpoints, or the job's own
// URL (endpoint_id empty), with the filter of the events it wants.
struct webhook_target {
    std::string endpoint_id;  // "" for the job's own URL
    std::string url;
    std::string dest;  // what per-endpoint concurrency counts by: the endpoint's id, or the URL's origin
    std::int64_t events = 0;
};
// The enabled endpoints of `account` as the writer's transaction sees them, appended to `out`.
error_code read_account_webhooks(sqlite_writer_ctx& w, std::string_view account,
                                 std::vector<webhook_target>& out);
// The job's own webhook, if it names one (nullopt also for an unknown job).
boost::system::result<std::optional<webhook_target>> read_job_webhook(sqlite_writer_ctx& w,
                                                                      std::string_view uuid);
// The webhook deliveries a job's new `status` causes (none when no webhook event names it): one
// per target in `endpoints` and in `own` (the job's own URL, may be null) whose filter has the
// event. Written in the writer's open transaction, so they commit with the change; the new rows
// are appended to `fresh`, to be handed over to the webhook store after the commit.
error_code record_webhook_deliveries(sqlite_writer_ctx& w, std::string_view uuid, std::string_view account,
                                     model::job_status status, std::int64_t at_ms,
                                     const std::vector<webhook_target>& endpoints, const webhook_target* own,
                                     std::vector<board_entry>& fresh);
// Startup only: writes `seed` (which must outlive the op); `settled` becomes ready when it is
// committed, or holds the failure as a std::runtime_error.
std::unique_ptr<sqlite_write_op> make_seed_op(const seed_data& seed, std::future<void>& settled);

// Reads (sqlite_read_ops.cpp).
std::unique_ptr<sqlite_read_op> make_find_job_op(std::string account_id, std::string uuid,
                                                 sqlite_handler<std::optional<job_record>> handler);
// The job holding `key` for `account_id`, created at or after `since_ms`.
std::unique_ptr<sqlite_read_op> make_find_by_key_op(std::string account_id, std::string key,
                                                    std::int64_t since_ms,
                                                    sqlite_handler<std::optional<job_record>> handler);
std::unique_ptr<sqlite_read_op> make_list_unpublished_op(std::int64_t after_seq, std::size_t limit,
                                                         sqlite_handler<std::vector<outbox_entry>> handler);
std::unique_ptr<sqlite_read_op> make_list_jobs_op(job_query query,
                                                  sqlite_handler<std::vector<job_record>> handler);
std::unique_ptr<sqlite_read_op> make_list_batch_op(std::string account_id, std::string batch_id,
                                                   sqlite_handler<std::vector<job_record>> handler);
std::unique_ptr<sqlite_read_op> make_outbox_stats_op(outbox_detail detail,
                                                     sqlite_handler<outbox_stats> handler);
std::unique_ptr<sqlite_read_op> make_count_jobs_op(sqlite_handler<std::vector<job_count>> handler);
std::unique_ptr<sqlite_read_op> make_recent_jobs_op(std::size_t limit,
                                                    sqlite_handler<std::vector<job_record>> handler);
std::unique_ptr<sqlite_read_op> make_load_catalog_op(sqlite_handler<catalog_ptr> handler);

// The lifecycle (sqlite_lifecycle_ops.cpp): writes, then reads. The webhook deliveries of the jobs
// a cancel or a sweep ends are handed over to `webhooks` (may be null) on commit.
std::unique_ptr<sqlite_write_op> make_cancel_job_op(std::string account_id, std::string uuid,
                                                    std::int64_t now_ms, sqlite_webhook_store* webhooks,
                                                    sqlite_handler<cancel_outcome> handler);
std::unique_ptr<sqlite_write_op> make_retry_job_op(std::string account_id, std::string uuid,
                                                   std::optional<std::int64_t> expires_in_ms,
                                                   std::int64_t now_ms,
                                                   sqlite_handler<retry_outcome> handler);
std::unique_ptr<sqlite_write_op> make_sweep_op(sweep_request request, sqlite_webhook_store* webhooks,
                                               sqlite_handler<lifecycle_sweep> handler);
std::unique_ptr<sqlite_write_op> make_release_held_op(model::job_type type, std::size_t limit,
                                                      sqlite_handler<std::vector<job_record>> handler);
std::unique_ptr<sqlite_write_op> make_remove_controls_op(std::vector<std::int64_t> seqs,
                                                         sqlite_handler<> handler);
std::unique_ptr<sqlite_read_op> make_list_controls_op(std::size_t limit,
                                                      sqlite_handler<std::vector<control_entry>> handler);
std::unique_ptr<sqlite_read_op> make_stuck_jobs_op(
    std::array<std::int64_t, model::all_job_types.size()> cutoffs, std::size_t limit,
    sqlite_handler<std::vector<job_record>> handler);

}  // namespace sqlite_ops

}  // namespace jobsd::store

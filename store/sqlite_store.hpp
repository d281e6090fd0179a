// The embedded default store: one SQLite file in WAL mode, one writer thread doing group
// commit, and reader threads with their own connections that never block the writer.
//
// Thread safety: all public members may be called from any thread. The writer thread owns the
// read-write connection; each reader thread owns one read-only connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "store/sqlite_webhook_store.hpp"
#include "store/store.hpp"
#include "store/store_options.hpp"

namespace jobsd::store {

struct sqlite_write_op;  // store/sqlite_ops.hpp
struct sqlite_read_op;
class sqlite_inline_reads;  // store/sqlite_inline_reads.hpp

// The SQLite adapter's own settings; the shared ones (batch, queue bounds, idempotency window)
// are store_options.
struct sqlite_options {
    // The database file; its directory is created when missing.
    std::filesystem::path path = "var/jobsd.db";
    // How long the writer waits for a batch to fill after the first operation arrives. 0 takes
    // whatever is queued: the fsync of the previous batch already gathers the next one.
    std::chrono::microseconds batch_wait{0};
    // Reader threads (GET /jobs/:id, catalog loads, the outbox relay), each with its own
    // connection. Two, so that one slow scan (the operator views' counts) holds up no lookup.
    std::size_t readers = 2;
    // Lookups of one job (GET /jobs/:id, an Idempotency-Key) run on the io thread that asks, each
    // io thread with a connection of its own, batched per turn of its event loop: no hop to a
    // reader and back. A lookup that would wait (a lock, data not in the page cache) goes to a
    // reader instead (store/sqlite_inline_reads.hpp). This many io threads get a connection: two,
    // the io threads of a two-core machine; io threads beyond it use the readers. 0: every lookup
    // on a reader.
    std::size_t inline_readers = 2;
    // synchronous=FULL makes every commit durable across power loss; NORMAL is for benchmarks
    // that say so, never for production.
    bool synchronous_full = true;
    // How long the writer waits for the write lock while another process holds it (jobsctl, a
    // backup) before the batch is answered 503 with Retry-After; the next batch tries again.
    // 2 s: long enough for any jobsctl command, short enough that clients are not left waiting.
    std::chrono::milliseconds busy_timeout{2'000};
    // How far the index of sessions' jobs may lag behind the writer (store/sqlite_session_index.hpp):
    // a catch-up starts once this many jobs wait, or once the interval has passed with any waiting,
    // and is written a slice per transaction. 4 096 jobs: a page of the index takes dozens of a
    // session's jobs at once even with a hundred sessions written to at a time; a session's page
    // reads about that many recent jobs by seq, and a few hundred more while a catch-up is being
    // written (a millisecond or two). 1 s: an idle server's lag stays small.
    std::int64_t session_index_rows = 4'096;
    std::chrono::milliseconds session_index_interval{1'000};
};

class sqlite_store final : public store {
  public:
    // Opens (creating if needed) and migrates the database, then starts the threads.
    // Throws sqlite_error when the file cannot be opened or migrated.
    explicit sqlite_store(sqlite_options options, store_options common = {});
    // Stops taking work, commits what was already queued, answers queued reads, joins.
    ~sqlite_store() override;

    void create_job(job_record job, boost::asio::any_completion_handler<void(error_code)> handler) override;
    void create_jobs(std::vector<job_record> jobs,
                     boost::asio::any_completion_handler<void(error_code)> handler) override;
    void list_jobs(
        job_query query,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) override;
    void list_batch(
        std::string account_id, std::string batch_id,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) override;
    void find_job(
        std::string account_id, std::string uuid,
        boost::asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) override;
    void find_by_idempotency_key(
        std::string account_id, std::string key,
        boost::asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) override;
    void load_catalog(boost::asio::any_completion_handler<void(error_code, catalog_ptr)> handler) override;
    void claim_unpublished(
        std::int64_t after_seq, std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler) override;
    void mark_published(std::vector<model::job_attempt> published,
                        boost::asio::any_completion_handler<void(error_code)> handler) override;
    void renew_claims(
        std::vector<std::string> uuids,
        boost::asio::any_completion_handler<void(error_code, std::vector<std::string>)> handler) override;
    std::chrono::milliseconds claim_lease() const noexcept override;
    void apply_events(
        std::vector<model::job_event> events,
        boost::asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler) override;
    void read_outbox_stats(
        outbox_detail detail,
        boost::asio::any_completion_handler<void(error_code, outbox_stats)> handler) override;
    void count_jobs(
        boost::asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) override;
    void list_recent_jobs(
        std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) override;
    void cancel_job(std::string account_id, std::string uuid, std::int64_t now_ms,
                    boost::asio::any_completion_handler<void(error_code, cancel_outcome)> handler) override;
    void retry_job(std::string account_id, std::string uuid, std::optional<std::int64_t> expires_in_ms,
                   std::int64_t now_ms,
                   boost::asio::any_completion_handler<void(error_code, retry_outcome)> handler) override;
    void sweep_lifecycle(
        sweep_request request,
        boost::asio::any_completion_handler<void(error_code, lifecycle_sweep)> handler) override;
    void release_held(
        model::job_type type, std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) override;
    void list_control_messages(
        std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<control_entry>)> handler) override;
    void remove_control_messages(std::vector<std::int64_t> seqs,
                                 boost::asio::any_completion_handler<void(error_code)> handler) override;
    void list_stuck_jobs(
        std::array<std::int64_t, model::all_job_types.size()> updated_before_ms, std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) override;
    void apply_seed(const seed_data& seed) override;
    void stop_creating() override;
    store_stats stats() const override;
    webhook_store* webhooks() noexcept override { return webhooks_.get(); }

  private:
    void writer_loop();
    void reader_loop();
    void submit_read(std::unique_ptr<sqlite_read_op> op);
    // A lookup of one job: on the asking io thread when it can be (inline_reads_), else a reader.
    void submit_point_read(std::unique_ptr<sqlite_read_op> op);
    void submit_write(std::unique_ptr<sqlite_write_op> op);

    const sqlite_options options_;
    const store_options common_;
    struct queues;
    std::unique_ptr<queues> queues_;
    std::atomic<std::uint64_t> transactions_{0};
    std::atomic<std::uint64_t> jobs_committed_{0};
    std::atomic<std::uint64_t> events_applied_{0};
    std::atomic<bool> last_write_ok_{true};     // the last write transaction did not fail on the database
    std::atomic<bool> creates_stopped_{false};  // stop_creating() was called
    std::thread writer_;
    std::vector<std::thread> readers_;
    std::unique_ptr<sqlite_inline_reads> inline_reads_;  // null when options_.inline_readers is 0
    std::unique_ptr<sqlite_webhook_store> webhooks_;     // runs its operations on the threads above
};

}  // namespace jobsd::store

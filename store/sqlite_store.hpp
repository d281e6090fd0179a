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

#include "store/store.hpp"

namespace jobsd::store {

struct sqlite_options {
    // The database file; its directory is created when missing.
    std::filesystem::path path = "var/jobsd.db";
    // Most write operations in one transaction. Bounds how long one commit holds the write lock
    // and how much one failed commit has to answer for; 1024 jobs is a few hundred KiB of WAL.
    std::size_t batch_max = 1024;
    // How long the writer waits for a batch to fill after the first operation arrives. 0 takes
    // whatever is queued: the fsync of the previous batch already gathers the next one.
    std::chrono::microseconds batch_wait{0};
    // Reader threads (GET /jobs/:id, catalog loads), each with its own connection.
    std::size_t readers = 2;
    // Bound on queued writes; past it create_job fails fast with store_errc::busy.
    std::size_t write_queue_max = 65536;
    // Bound on queued reads; past it reads fail fast with store_errc::busy.
    std::size_t read_queue_max = 65536;
    // How long an Idempotency-Key holds: a repeat within it replays, after it creates anew.
    std::chrono::milliseconds idempotency_window{24 * 3600 * 1000};
    // synchronous=FULL makes every commit durable across power loss; NORMAL is for benchmarks
    // that say so, never for production.
    bool synchronous_full = true;
};

class sqlite_store final : public store {
  public:
    // Opens (creating if needed) and migrates the database, then starts the threads.
    // Throws sqlite_error when the file cannot be opened or migrated.
    explicit sqlite_store(sqlite_options options);
    // Stops taking work, commits what was already queued, answers queued reads, joins.
    ~sqlite_store() override;

    void create_job(job_record job, boost::asio::any_completion_handler<void(error_code)> handler) override;
    void find_job(
        std::string account_id, std::string uuid,
        boost::asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) override;
    void find_by_idempotency_key(
        std::string account_id, std::string key, std::int64_t since_ms,
        boost::asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) override;
    void load_catalog(boost::asio::any_completion_handler<void(error_code, catalog_ptr)> handler) override;
    void claim_unpublished(
        std::int64_t after_seq, std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler) override;
    void mark_published(std::vector<std::string> uuids,
                        boost::asio::any_completion_handler<void(error_code)> handler) override;
    void apply_events(
        std::vector<model::job_event> events,
        boost::asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler) override;
    void read_outbox_stats(
        boost::asio::any_completion_handler<void(error_code, outbox_stats)> handler) override;
    void count_jobs(
        boost::asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) override;
    void list_recent_jobs(
        std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) override;
    void apply_seed(const seed_data& seed) override;
    store_stats stats() const override;

    struct write_op;
    struct read_op;

  private:
    void writer_loop();
    void reader_loop();
    void submit_read(std::unique_ptr<read_op> op);
    void submit_write(std::unique_ptr<write_op> op);

    const sqlite_options options_;
    struct queues;
    std::unique_ptr<queues> queues_;
    std::atomic<std::uint64_t> transactions_{0};
    std::atomic<std::uint64_t> jobs_committed_{0};
    std::atomic<std::uint64_t> events_applied_{0};
    std::thread writer_;
    std::vector<std::thread> readers_;
};

}  // namespace jobsd::store

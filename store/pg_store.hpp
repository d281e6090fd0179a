// The shared store: PostgreSQL through a small pool of non-blocking libpq connections on one
// io thread. Writes queued together go out as one pipeline in one transaction (group commit);
// several jobsd may share the database (outbox claims with leases, forward-only events).
//
// Thread safety: all public members may be called from any thread; they hand work to the
// store's io thread, which alone touches the connections and the queues.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "store/store.hpp"
#include "store/store_options.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::store {

struct pg_op;  // store/pg_ops.hpp

// The PostgreSQL adapter's own settings; the shared ones (batch, queue bounds, idempotency
// window) are store_options.
struct pg_options {
    // postgres://[user[:password]@]host[:port]/dbname[?param=value…], as libpq takes it.
    std::string url;
    // Connections in the pool. Each is one server backend; 4 keeps a busy writer, reads and
    // the relay's claims apart without crowding a server shared by several jobsd.
    std::size_t pool_size = 4;
    // Connections committing write batches at once (at most pool_size - 1, so that one is left
    // for reads). Each batch is one transaction, its single creates one INSERT
    // (pg_ops::coalesce_creates). One: a batch waits for the previous commit and so takes every
    // write queued meanwhile, and the server's work per batch, not per row, is what a batch
    // costs: on a 2-core machine one writer ingested 15 359-17 145 jobs/s at 35-38 µs of server
    // CPU per job, three 12 173-13 357 at 59-62 µs (bench/RESULTS.md, issue 20).
    std::size_t writers = 1;
    // How long a connection attempt may take; also bounds the startup check.
    std::chrono::milliseconds connect_timeout{5000};
    // How long one pipeline may take before its connection is dropped and its operations fail.
    std::chrono::milliseconds query_timeout{30000};
    // How long an outbox claim holds. The claimer renews it at every relay sweep, so it must be
    // longer than amqp.relay_interval (30 s by default); when the claimer dies another instance
    // takes its unpublished jobs after this long: a crash delays them by a minute at most.
    std::chrono::milliseconds claim_lease{60000};
    // This instance's name in outbox claims; empty picks a random one at start. A fixed name
    // lets a restarted jobsd take its own claims back at once; two live jobsd must never share one.
    std::string instance_id;
};

class pg_store final : public store {
  public:
    // Connects once (checking the URL and the server), migrates, then starts the io thread.
    // Throws std::invalid_argument for a URL libpq cannot parse, pg_error when the server
    // cannot be reached or migrated.
    explicit pg_store(pg_options options, store_options common = {});
    // Stops taking work, runs what was queued while a connection is up, fails the rest, joins.
    ~pg_store() override;

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

    const std::string& instance_id() const { return options_.instance_id; }

  private:
    struct impl;
    void submit(std::unique_ptr<pg_op> o);

    pg_options options_;
    const store_options common_;
    const std::string policy_json_;  // common_.lifecycle for jobsd_apply_event()
    std::shared_ptr<impl> impl_;
    std::thread thread_;
    std::unique_ptr<webhook_store> webhooks_;  // runs its operations on the connections above
};

}  // namespace jobsd::store

// The async store interface: what the server needs from durable storage, independent of the
// technology behind it. Completions run on the executor associated with the handler.
//
// Errors: every completion carries an error_code, never an exception; nothing thrown crosses
// this interface once the store is open. Its values are store_errc (store/store_error.hpp):
//   busy       the operation's queue is at its bound (store_options): saturation, shed load;
//   closed     the store is shutting down and takes no more work;
//   io         the database failed the operation, or its outcome is unknown (a connection lost
//              mid-commit); details are logged here;
//   unavailable the database cannot be reached right now (an outage): nothing was done;
//   duplicate  create_job(s) only: the uuid, or a live Idempotency-Key of the account, is taken.
// "Not found" is no error: lookups complete with an empty optional. The value arguments of a
// failed completion are empty. Startup-only calls (the adapters' constructors, apply_seed) throw.
//
// Thread safety: every member may be called from any thread concurrently.
// Lifetime: callers keep the handler's executor alive (a work guard on its io_context) until
// the completion has run; the store's destructor completes or fails every pending operation.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/catalog.hpp"
#include "model/job_event.hpp"
#include "store/job_query.hpp"
#include "store/job_record.hpp"
#include "store/seed.hpp"

namespace jobsd::store {

using boost::system::error_code;
using catalog_ptr = std::shared_ptr<const model::catalog>;

class webhook_store;  // store/webhook_store.hpp

// A committed job not yet confirmed by the broker, with its place in commit order.
struct outbox_entry {
    std::int64_t seq = 0;
    job_record job;
};

// The outbox backlog, for /metrics and health.
struct outbox_stats {
    std::uint64_t unpublished = 0;
    std::optional<std::int64_t> oldest_created_ms;  // nullopt when the backlog is empty
};

// A status event that moved its job forward, with what notifications need to route it.
struct applied_event {
    model::job_event event;
    std::string account_id;
    std::string session_id;
    model::job_type type{};
};

// How many jobs of one type are in one status, for /metrics and the dashboard.
struct job_count {
    model::job_type type{};
    model::job_status status{};
    std::uint64_t count = 0;
};

// Counters for /metrics (monotonic since start) and the write queue, for readiness.
struct store_stats {
    std::uint64_t transactions = 0;     // committed write transactions
    std::uint64_t jobs_committed = 0;   // jobs inside them
    std::uint64_t write_queue = 0;      // write operations waiting for the writer right now
    std::uint64_t events_applied = 0;   // status events that moved a job forward
    std::uint64_t write_queue_max = 0;  // the bound on write_queue (store_options); at it, busy
    // False during an outage: no connection to the database can be made (PostgreSQL), or the
    // last write transaction failed on the database itself (SQLite). For readiness.
    bool available = true;
};

class store {
  public:
    virtual ~store() = default;

    // Commits a new job (unpublished, QUEUED), with its own webhook URL and filter when it has
    // one. Completes only once the transaction holding it is durable; many concurrent calls share
    // one transaction. With an idempotency key, a live job
    // of the same account and key (created after `job.created_ms - idempotency_window`) makes it
    // fail with store_errc::duplicate; an older holder of the key gives it up.
    virtual void create_job(job_record job,
                            boost::asio::any_completion_handler<void(error_code)> handler) = 0;

    // Commits several new jobs all or none, in one transaction, in order (POST /jobs/v2/batch).
    // Only jobs[0] may carry an idempotency key, which then holds for them all: a live holder of
    // it fails the whole call with store_errc::duplicate and nothing is written. Completes once
    // durable, like create_job, with which it shares group commit.
    virtual void create_jobs(std::vector<job_record> jobs,
                             boost::asio::any_completion_handler<void(error_code)> handler) = 0;

    // One page of the query's jobs, newest first (store/job_query.hpp), read through an index.
    virtual void list_jobs(
        job_query query,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) = 0;

    // The jobs of one batch of `account_id`, in the order they were given to create_jobs.
    virtual void list_batch(
        std::string account_id, std::string batch_id,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) = 0;

    // The job if it exists and belongs to `account_id`; nullopt otherwise.
    virtual void find_job(
        std::string account_id, std::string uuid,
        boost::asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) = 0;

    // The job created with this Idempotency-Key by this account within the store's
    // idempotency window (store_options) before now, if any.
    virtual void find_by_idempotency_key(
        std::string account_id, std::string key,
        boost::asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) = 0;

    // A fresh snapshot of accounts, key hashes, projects and image prompts.
    virtual void load_catalog(boost::asio::any_completion_handler<void(error_code, catalog_ptr)> handler) = 0;

    // Transactional outbox: claims for this instance the unpublished jobs with seq > after_seq
    // that no other live instance holds, oldest first, at most limit. A store shared by several
    // instances gives each job to one claimer at a time, for a lease the claimer renews by
    // claiming again; a store of one instance (SQLite) simply lists them.
    virtual void claim_unpublished(
        std::int64_t after_seq, std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler) = 0;

    // Marks jobs as published (the broker confirmed them); shares group commit with job writes.
    virtual void mark_published(std::vector<std::string> uuids,
                                boost::asio::any_completion_handler<void(error_code)> handler) = 0;

    // Extends this instance's claims on these unpublished jobs by another lease, so the jobs its
    // publisher holds (queued, unconfirmed) are not taken over while it still sends them. Jobs
    // published meanwhile or claimed by another instance are left alone; the completion lists
    // the uuids whose claims were extended, so the caller learns which claims it lost. A store
    // of one instance (SQLite) has no leases and completes at once with every uuid.
    virtual void renew_claims(
        std::vector<std::string> uuids,
        boost::asio::any_completion_handler<void(error_code, std::vector<std::string>)> handler) = 0;

    // How long a claim made by claim_unpublished, renew_claims or a create holds, counted from
    // the start of the statement that made it; zero for a store of one instance (no leases).
    virtual std::chrono::milliseconds claim_lease() const noexcept = 0;

    // Applies status events in one transaction, in order. An event that would not move its job
    // forward (late, duplicate, after a terminal state) or names an unknown job is skipped; the
    // completion lists the applied ones. In the same transaction, each applied event that is a
    // webhook event records one delivery per enabled endpoint of the account and per job URL
    // (the create body's `webhook`) whose filter wants it (store/webhook_store.hpp).
    virtual void apply_events(
        std::vector<model::job_event> events,
        boost::asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler) = 0;

    virtual void read_outbox_stats(
        boost::asio::any_completion_handler<void(error_code, outbox_stats)> handler) = 0;

    // Jobs per type and status (only the pairs that have jobs), across all accounts. Scans the
    // jobs table: callers cache the answer (operator views, /metrics), never per request.
    virtual void count_jobs(
        boost::asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) = 0;

    // The `limit` most recently created jobs across all accounts, newest first (operator views).
    virtual void list_recent_jobs(
        std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) = 0;

    // Startup only: writes the seed synchronously. Throws on failure (the one call here that does).
    virtual void apply_seed(const seed_data& seed) = 0;

    // Shutdown: from now on create_job fails with store_errc::closed, and so do the creates
    // queued and not yet begun (nothing of them is committed); a commit already running
    // finishes, and every other write (marks, events) goes on. Requests still waiting at the end
    // of the shutdown grace get an answer that matches what is stored.
    virtual void stop_creating() = 0;

    virtual store_stats stats() const = 0;

    // Webhook endpoints and deliveries, kept in this same database (deliveries are written by
    // apply_events); nullptr for a store without them (test fakes). Lives as long as the store.
    virtual webhook_store* webhooks() noexcept { return nullptr; }
};

// Completion-token front ends: `co_await async_create_job(s, job, asio::use_awaitable)`.
template <class Token>
auto async_create_job(store& s, job_record job, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [&s](auto handler, job_record j) { s.create_job(std::move(j), std::move(handler)); }, token,
        std::move(job));
}

template <class Token>
auto async_create_jobs(store& s, std::vector<job_record> jobs, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [&s](auto handler, std::vector<job_record> j) { s.create_jobs(std::move(j), std::move(handler)); },
        token, std::move(jobs));
}

template <class Token>
auto async_list_jobs(store& s, job_query query, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<job_record>)>(
        [&s](auto handler, job_query q) { s.list_jobs(std::move(q), std::move(handler)); }, token,
        std::move(query));
}

template <class Token>
auto async_list_batch(store& s, std::string account_id, std::string batch_id, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<job_record>)>(
        [&s](auto handler, std::string a, std::string b) {
            s.list_batch(std::move(a), std::move(b), std::move(handler));
        },
        token, std::move(account_id), std::move(batch_id));
}

template <class Token>
auto async_find_job(store& s, std::string account_id, std::string uuid, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::optional<job_record>)>(
        [&s](auto handler, std::string a, std::string u) {
            s.find_job(std::move(a), std::move(u), std::move(handler));
        },
        token, std::move(account_id), std::move(uuid));
}

template <class Token>
auto async_claim_unpublished(store& s, std::int64_t after_seq, std::size_t limit, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<outbox_entry>)>(
        [&s](auto handler, std::int64_t after, std::size_t n) {
            s.claim_unpublished(after, n, std::move(handler));
        },
        token, after_seq, limit);
}

template <class Token>
auto async_mark_published(store& s, std::vector<std::string> uuids, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [&s](auto handler, std::vector<std::string> u) {
            s.mark_published(std::move(u), std::move(handler));
        },
        token, std::move(uuids));
}

template <class Token>
auto async_apply_events(store& s, std::vector<model::job_event> events, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<applied_event>)>(
        [&s](auto handler, std::vector<model::job_event> e) {
            s.apply_events(std::move(e), std::move(handler));
        },
        token, std::move(events));
}

template <class Token>
auto async_read_outbox_stats(store& s, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, outbox_stats)>(
        [&s](auto handler) { s.read_outbox_stats(std::move(handler)); }, token);
}

template <class Token>
auto async_count_jobs(store& s, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<job_count>)>(
        [&s](auto handler) { s.count_jobs(std::move(handler)); }, token);
}

template <class Token>
auto async_list_recent_jobs(store& s, std::size_t limit, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<job_record>)>(
        [&s](auto handler, std::size_t n) { s.list_recent_jobs(n, std::move(handler)); }, token, limit);
}

template <class Token>
auto async_find_by_idempotency_key(store& s, std::string account_id, std::string key, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::optional<job_record>)>(
        [&s](auto handler, std::string a, std::string k) {
            s.find_by_idempotency_key(std::move(a), std::move(k), std::move(handler));
        },
        token, std::move(account_id), std::move(key));
}

template <class Token>
auto async_load_catalog(store& s, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, catalog_ptr)>(
        [&s](auto handler) { s.load_catalog(std::move(handler)); }, token);
}

}  // namespace jobsd::store

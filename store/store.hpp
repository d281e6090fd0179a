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

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// How much a read of the outbox's backlog counts. total: the unpublished jobs and the oldest, from
// the outbox alone, cheap however large the backlog (the broker away for long), for the 503 gate,
// readiness, /metrics and the overview. by_type: the count per job type too, which reads every
// unpublished job's row (the fair queue's window).
enum class outbox_detail { total, by_type };

// The outbox backlog, for /metrics and health.
struct outbox_stats {
    std::uint64_t unpublished = 0;
    std::optional<std::int64_t> oldest_created_ms;  // nullopt when the backlog is empty
    // The same per job type (model::all_job_types order), for the fair queue's window: filled
    // when outbox_detail::by_type was asked for (a store may fill it anyway).
    std::array<std::uint64_t, model::all_job_types.size()> unpublished_by_type{};

    // Adds one type's row of the per-type count.
    void add(std::string_view type, std::uint64_t count, std::optional<std::int64_t> oldest) {
        unpublished += count;
        if (auto t = model::parse_job_type(type)) unpublished_by_type[static_cast<std::size_t>(*t)] += count;
        if (oldest && (!oldest_created_ms || *oldest < *oldest_created_ms)) oldest_created_ms = oldest;
    }
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

// A message for the workers of one job type waiting for the broker (the control outbox): for
// now only "cancel", which asks the worker holding `attempt` (or an earlier one) of the job to
// stop it, and any worker that gets that attempt later not to run it.
struct control_entry {
    std::int64_t seq = 0;  // commit order
    std::string uuid;
    model::job_type type{};
    std::string kind;  // "cancel"
    int attempt = 1;
    std::int64_t created_ms = 0;
};

// What cancelling a job did (POST /jobs/:id/cancel).
struct cancel_outcome {
    enum class kind {
        not_found,         // no such job of this account
        cancelled,         // CANCELLED (now, or by an earlier cancel or its worker)
        cancel_requested,  // a worker holds it: the cancel request is on its way to it
        finished,          // SUCCESS, FAILED or EXPIRED already: nothing to cancel
    };
    kind what = kind::not_found;
    bool changed = false;           // this call cancelled it or recorded the request (not a repeat)
    std::optional<job_record> job;  // as it stands after the call (not for not_found)
};

// What retrying a job did (POST /jobs/:id/retry).
struct retry_outcome {
    enum class kind {
        not_found,      // no such job of this account
        retried,        // QUEUED again as the next attempt, in the outbox
        not_retryable,  // not FAILED, CANCELLED or EXPIRED: `job` says what it is
    };
    kind what = kind::not_found;
    std::optional<job_record> job;
};

// What one pass of the lifecycle sweep is asked to do.
struct sweep_request {
    std::int64_t now_ms = 0;
    std::size_t limit = 0;  // jobs expired (of each kind) and retries released, at most
    // Job types whose broker queues have no consumer: their published QUEUED jobs whose deadline
    // is at or before `unconsumed_deadline_ms` become EXPIRED too. No worker holds them, and one
    // that comes later skips a job past its deadline; the broker expires a message only at the
    // head of its queue, so without this a job behind one with no deadline stays QUEUED.
    std::vector<model::job_type> unconsumed;
    std::int64_t unconsumed_deadline_ms = 0;
    // When set: whether a QUEUED job whose deadline is at or before it is left after the pass
    // (lifecycle_sweep::overdue), so that the queues are read only when they can matter.
    std::optional<std::int64_t> probe_deadline_ms;
};

// One pass of the lifecycle sweep.
struct lifecycle_sweep {
    std::vector<applied_event> expired;  // QUEUED jobs still in the outbox past their deadline: EXPIRED
    std::vector<applied_event> expired_unconsumed;  // published ones of the unconsumed types: EXPIRED
    std::vector<job_record> due;                    // retries whose backoff is over: back in the outbox
    bool overdue = false;                           // the probe found one (sweep_request::probe_deadline_ms)
};

// Counters for /metrics (monotonic since start) and the write queue, for readiness.
struct store_stats {
    std::uint64_t transactions = 0;     // committed write transactions (not a sweep that wrote nothing)
    std::uint64_t jobs_committed = 0;   // jobs inside them
    std::uint64_t write_queue = 0;      // write operations waiting for the writer right now
    std::uint64_t events_applied = 0;   // status events that moved a job forward
    std::uint64_t write_queue_max = 0;  // the bound on write_queue (store_options); at it, busy
    // False during an outage: no connection to the database can be made (PostgreSQL), or the
    // last write transaction failed on the database itself (SQLite). For readiness.
    bool available = true;
    // Lookups of one job run on the asking io thread, and those that declined there (they would
    // have waited) and went to a reader thread. SQLite only; 0 elsewhere.
    std::uint64_t lookups_inline = 0;
    std::uint64_t lookups_declined = 0;
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

    // Marks jobs as published (the broker confirmed these attempts); shares group commit with job
    // writes. A job whose attempt is no longer the one confirmed (cancelled and retried while
    // the earlier attempt waited for its confirm) is left waiting for the broker.
    virtual void mark_published(std::vector<model::job_attempt> published,
                                boost::asio::any_completion_handler<void(error_code)> handler) = 0;

    // Extends this instance's claims on these jobs by another lease, so the jobs its publisher
    // holds (queued, unconfirmed) are not taken over while it still sends them. Jobs claimed by
    // another instance are left alone; the completion lists the uuids whose claims were
    // extended (also those this instance marked published meanwhile, still its own), so the
    // caller learns which claims it lost. A store of one instance (SQLite) has no leases and
    // completes at once with every uuid.
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

    // The oldest is the least created_ms among unpublished jobs; with `total` a store may take the
    // created_ms of the first in commit order instead, the same job but for creates committed
    // within the same millisecond or two.
    virtual void read_outbox_stats(
        outbox_detail detail,
        boost::asio::any_completion_handler<void(error_code, outbox_stats)> handler) = 0;

    // Jobs per type and status (only the pairs that have jobs), across all accounts. Scans the
    // jobs table: callers cache the answer (operator views, /metrics), never per request.
    virtual void count_jobs(
        boost::asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) = 0;

    // The `limit` most recently created jobs across all accounts, newest first (operator views).
    virtual void list_recent_jobs(
        std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) = 0;

    // ---- the job's lifecycle (issue 16)

    // Cancels the account's job in one transaction: QUEUED (or a retry waiting) becomes
    // CANCELLED and leaves the outbox; STARTED or IN_PROGRESS records the request. Either way a
    // cancel message for its workers enters the control outbox, in the same transaction. A
    // repeat changes nothing and answers alike; a finished job is left as it is.
    virtual void cancel_job(
        std::string account_id, std::string uuid, std::int64_t now_ms,
        boost::asio::any_completion_handler<void(error_code, cancel_outcome)> handler) = 0;

    // Starts the next attempt of the account's FAILED, CANCELLED or EXPIRED job: QUEUED,
    // attempt + 1, progress and output cleared (the last error kept), unpublished (claimed by
    // this instance), with a new deadline from `expires_in_ms` or else the job's own TTL.
    virtual void retry_job(std::string account_id, std::string uuid,
                           std::optional<std::int64_t> expires_in_ms, std::int64_t now_ms,
                           boost::asio::any_completion_handler<void(error_code, retry_outcome)> handler) = 0;

    // One transaction: QUEUED jobs still in the outbox whose deadline is past become EXPIRED
    // (and leave it), and so do the published ones the request names (sweep_request::unconsumed);
    // retries whose backoff is over enter the outbox (claimed by this instance). At most
    // `limit` of each.
    virtual void sweep_lifecycle(
        sweep_request request,
        boost::asio::any_completion_handler<void(error_code, lifecycle_sweep)> handler) = 0;

    // Held jobs of `type` leave its fair queue (model/fair_order.hpp), smallest fair_key first, at
    // most `limit`: QUEUED, in the outbox (claimed by this instance), each returned with the
    // fair_key it had. Cancelled or expired jobs have left the queue already.
    virtual void release_held(
        model::job_type type, std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) = 0;

    // The control outbox, oldest first, at most `limit`; and removing what the broker confirmed.
    virtual void list_control_messages(
        std::size_t limit,
        boost::asio::any_completion_handler<void(error_code, std::vector<control_entry>)> handler) = 0;
    virtual void remove_control_messages(std::vector<std::int64_t> seqs,
                                         boost::asio::any_completion_handler<void(error_code)> handler) = 0;

    // STARTED or IN_PROGRESS jobs whose last event is older than their type's cutoff
    // (`updated_before_ms[type]`), the longest silent first, at most `limit`.
    virtual void list_stuck_jobs(
        std::array<std::int64_t, model::all_job_types.size()> updated_before_ms, std::size_t limit,
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
auto async_mark_published(store& s, std::vector<model::job_attempt> published, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [&s](auto handler, std::vector<model::job_attempt> p) {
            s.mark_published(std::move(p), std::move(handler));
        },
        token, std::move(published));
}

template <class Token>
auto async_renew_claims(store& s, std::vector<std::string> uuids, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<std::string>)>(
        [&s](auto handler, std::vector<std::string> u) { s.renew_claims(std::move(u), std::move(handler)); },
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
auto async_read_outbox_stats(store& s, outbox_detail detail, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, outbox_stats)>(
        [&s, detail](auto handler) { s.read_outbox_stats(detail, std::move(handler)); }, token);
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

template <class Token>
auto async_cancel_job(store& s, std::string account_id, std::string uuid, std::int64_t now_ms,
                      Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, cancel_outcome)>(
        [&s](auto handler, std::string a, std::string u, std::int64_t now) {
            s.cancel_job(std::move(a), std::move(u), now, std::move(handler));
        },
        token, std::move(account_id), std::move(uuid), now_ms);
}

template <class Token>
auto async_retry_job(store& s, std::string account_id, std::string uuid,
                     std::optional<std::int64_t> expires_in_ms, std::int64_t now_ms, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, retry_outcome)>(
        [&s](auto handler, std::string a, std::string u, std::optional<std::int64_t> ttl, std::int64_t now) {
            s.retry_job(std::move(a), std::move(u), ttl, now, std::move(handler));
        },
        token, std::move(account_id), std::move(uuid), expires_in_ms, now_ms);
}

template <class Token>
auto async_sweep_lifecycle(store& s, sweep_request request, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, lifecycle_sweep)>(
        [&s](auto handler, sweep_request r) { s.sweep_lifecycle(std::move(r), std::move(handler)); }, token,
        std::move(request));
}

// The sweep of the outbox, the fair queue and the retries alone.
template <class Token>
auto async_sweep_lifecycle(store& s, std::int64_t now_ms, std::size_t limit, Token&& token) {
    return async_sweep_lifecycle(s, sweep_request{now_ms, limit, {}, 0, std::nullopt},
                                 std::forward<Token>(token));
}

template <class Token>
auto async_release_held(store& s, model::job_type type, std::size_t limit, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<job_record>)>(
        [&s](auto handler, model::job_type t, std::size_t n) { s.release_held(t, n, std::move(handler)); },
        token, type, limit);
}

template <class Token>
auto async_list_stuck_jobs(store& s, std::array<std::int64_t, model::all_job_types.size()> updated_before_ms,
                           std::size_t limit, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<job_record>)>(
        [&s](auto handler, std::array<std::int64_t, model::all_job_types.size()> cutoffs, std::size_t n) {
            s.list_stuck_jobs(cutoffs, n, std::move(handler));
        },
        token, updated_before_ms, limit);
}

template <class Token>
auto async_list_control_messages(store& s, std::size_t limit, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code, std::vector<control_entry>)>(
        [&s](auto handler, std::size_t n) { s.list_control_messages(n, std::move(handler)); }, token, limit);
}

template <class Token>
auto async_remove_control_messages(store& s, std::vector<std::int64_t> seqs, Token&& token) {
    return boost::asio::async_initiate<Token, void(error_code)>(
        [&s](auto handler, std::vector<std::int64_t> q) {
            s.remove_control_messages(std::move(q), std::move(handler));
        },
        token, std::move(seqs));
}

}  // namespace jobsd::store

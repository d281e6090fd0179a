// Inside the PostgreSQL adapter: the operations its pooled connections run. A write op adds its
// statements to a batch's pipeline between BEGIN and COMMIT; a read op runs alone. Each is then
// finished once with its own statements' results. Not for use elsewhere.
//
// Thread safety: an op is created on the caller's thread, and finished there when refused at
// once (busy, closed); otherwise it is touched on the store's io thread only. Finishing one
// hands its result to the waiter's executor (store/completion.hpp).
#pragma once

#include <boost/asio/any_completion_handler.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/lifecycle_policy.hpp"
#include "store/pg_connection.hpp"
#include "store/store.hpp"

namespace jobsd::store {

struct pg_op {
    virtual ~pg_op() = default;
    // Appends this operation's statements.
    virtual void add(std::vector<pg_statement>& out) const = 0;
    // Called once: with the results of its statements when `ec` is empty.
    virtual void finish(error_code ec, std::span<const pg_reply> results) = 0;
    // Jobs this operation commits when its last statement returns a row (for store_stats).
    virtual std::uint64_t jobs() const { return 0; }
    virtual bool is_write() const = 0;
    // False when it wrote nothing (the periodic lifecycle sweep with nothing due): a batch of such
    // operations alone is not counted as a write transaction. Asked after finish().
    virtual bool wrote() const { return true; }
    // A write's existing rows it updates (by uuid). A batch locks all of them first, in uuid
    // order, so two batches never wait on each other's rows in opposite orders (a deadlock).
    virtual void rows_to_lock(std::vector<std::string>&) const {}
    // Asked when one of its statements failed on a unique violation, which aborted the batch:
    // true when it switched to a form that skips the conflicting rows, so the batch runs again.
    virtual bool skip_conflicts() { return false; }
};

template <class... Values>
using pg_handler = boost::asio::any_completion_handler<void(error_code, Values...)>;

// The named statements the ops use, prepared on every connection (pg_statements.cpp), the
// webhook store's among them (pg_webhook_statements, in pg_webhook_store.cpp).
const std::vector<pg_prepared>& pg_prepared_statements();
std::vector<pg_prepared> pg_webhook_statements();

// The retry policy as the jsonb jobsd_apply_event() reads: {"<type>":{"max_attempts",
// "backoff_ms","backoff_max_ms"},…}.
std::string pg_policy_json(const model::lifecycle_policy& policy);

// The first statement of a write batch after BEGIN: locks `uuids` (sorted, unique) in order.
pg_statement pg_lock_rows(const std::vector<std::string>& uuids);

// A statement sent as text rather than prepared (BEGIN, COMMIT, rare reads).
inline pg_statement pg_sql(std::string text) {
    return {std::move(text), {}, false};
}

// A number as a text parameter.
std::string pg_number(std::int64_t v);
std::string pg_number(double v);
// Arrays as binary parameters (pg_binary_array.hpp).
pg_param pg_text_array(const std::vector<std::string>& items);                 // text[]
pg_param pg_int_array(const std::vector<std::optional<std::int64_t>>& items);  // int8[], nullopt as NULL

// The operations, one factory each; named pg_ops:: so that the two adapters' factories of
// the same signature stay apart.
namespace pg_ops {

// Writes (pg_write_ops.cpp). The new job is claimed by `instance` for `claim_lease`; an older
// job of the account holding its key past `idempotency_window` gives the key up.
std::unique_ptr<pg_op> make_create_job_op(job_record job, std::string instance,
                                          std::chrono::milliseconds claim_lease,
                                          std::chrono::milliseconds idempotency_window, pg_handler<> handler);
// Replaces the plain creates (no idempotency key) of a write batch, two or more, by one op that
// inserts them in one statement, at the place of the first; each still gets its own answer.
void coalesce_creates(std::vector<std::unique_ptr<pg_op>>& batch);
// All the jobs or none: jobs[0] (with the batch's key) first, then the rest only if it went in.
std::unique_ptr<pg_op> make_create_jobs_op(std::vector<job_record> jobs, std::string instance,
                                           std::chrono::milliseconds claim_lease,
                                           std::chrono::milliseconds idempotency_window,
                                           pg_handler<> handler);
std::unique_ptr<pg_op> make_mark_published_op(std::vector<model::job_attempt> published,
                                              pg_handler<> handler);
// Extends `instance`'s claims on these unpublished jobs to `claim_lease` from now.
std::unique_ptr<pg_op> make_renew_claims_op(std::string instance, std::chrono::milliseconds claim_lease,
                                            std::vector<std::string> uuids,
                                            pg_handler<std::vector<std::string>> handler);
// Applied events are added to `applied_counter` on commit; `policy_json` is the retry policy
// (pg_policy_json).
std::unique_ptr<pg_op> make_apply_events_op(std::vector<model::job_event> events,
                                            std::atomic<std::uint64_t>& applied_counter,
                                            std::string policy_json,
                                            pg_handler<std::vector<applied_event>> handler);

// Reads (pg_read_ops.cpp).
std::unique_ptr<pg_op> make_find_job_op(std::string account_id, std::string uuid,
                                        pg_handler<std::optional<job_record>> handler);
// The job holding `key` for `account_id`, created at or after `since_ms`.
std::unique_ptr<pg_op> make_find_by_key_op(std::string account_id, std::string key, std::int64_t since_ms,
                                           pg_handler<std::optional<job_record>> handler);
// Claims for `instance`, for `claim_lease`, up to `limit` unpublished jobs after `after_seq`.
std::unique_ptr<pg_op> make_claim_op(std::string instance, std::chrono::milliseconds claim_lease,
                                     std::int64_t after_seq, std::size_t limit,
                                     pg_handler<std::vector<outbox_entry>> handler);
std::unique_ptr<pg_op> make_list_jobs_op(job_query query, pg_handler<std::vector<job_record>> handler);
std::unique_ptr<pg_op> make_list_batch_op(std::string account_id, std::string batch_id,
                                          pg_handler<std::vector<job_record>> handler);
std::unique_ptr<pg_op> make_outbox_stats_op(pg_handler<outbox_stats> handler);
std::unique_ptr<pg_op> make_count_jobs_op(pg_handler<std::vector<job_count>> handler);
std::unique_ptr<pg_op> make_recent_jobs_op(std::size_t limit, pg_handler<std::vector<job_record>> handler);
std::unique_ptr<pg_op> make_load_catalog_op(pg_handler<catalog_ptr> handler);

// The lifecycle (pg_lifecycle_ops.cpp). A retried job and released retries are claimed by
// `instance` for `claim_lease`.
std::unique_ptr<pg_op> make_cancel_job_op(std::string account_id, std::string uuid, std::int64_t now_ms,
                                          pg_handler<cancel_outcome> handler);
std::unique_ptr<pg_op> make_retry_job_op(std::string account_id, std::string uuid,
                                         std::optional<std::int64_t> expires_in_ms, std::int64_t now_ms,
                                         std::string instance, std::chrono::milliseconds claim_lease,
                                         pg_handler<retry_outcome> handler);
std::unique_ptr<pg_op> make_release_held_op(model::job_type type, std::size_t limit, std::string instance,
                                            std::chrono::milliseconds claim_lease,
                                            pg_handler<std::vector<job_record>> handler);
std::unique_ptr<pg_op> make_sweep_op(sweep_request request, std::string instance,
                                     std::chrono::milliseconds claim_lease,
                                     pg_handler<lifecycle_sweep> handler);
std::unique_ptr<pg_op> make_remove_controls_op(std::vector<std::int64_t> seqs, pg_handler<> handler);
std::unique_ptr<pg_op> make_list_controls_op(std::size_t limit,
                                             pg_handler<std::vector<control_entry>> handler);
std::unique_ptr<pg_op> make_stuck_jobs_op(std::array<std::int64_t, model::all_job_types.size()> cutoffs,
                                          std::size_t limit, pg_handler<std::vector<job_record>> handler);

}  // namespace pg_ops

}  // namespace jobsd::store

// The store as an operator's tool sees it: synchronous calls for jobsctl, apart from the async
// hot-path `store`, so admin needs never widen the server's interface.
//
// Expected failures (unknown account, ambiguous prefix, …) are returned as admin_errc values;
// infrastructure failures (cannot open, disk full, locked past the busy timeout) throw.
// Thread safety: none; one admin store belongs to one thread (a CLI has only one).
// Every write is its own transaction and may run beside live jobsd instances on the same store.
#pragma once

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/catalog.hpp"
#include "model/job.hpp"
#include "store/admin_error.hpp"

namespace jobsd::store {

template <class T>
using admin_result = boost::system::result<T>;

struct account_info {
    std::string id;
    std::string name;
    std::int64_t created_ms = 0;
};

// A customer key as stored: never the key itself.
struct api_key_info {
    std::string prefix;
    std::string account_id;
    std::int64_t created_ms = 0;
    std::optional<std::int64_t> revoked_ms;  // nullopt while the key is live
};

struct operator_key_info {
    std::string prefix;
    std::string name;
    std::int64_t created_ms = 0;
    std::optional<std::int64_t> revoked_ms;
};

// Which keys `list_api_keys` returns; an empty member matches everything.
struct api_key_filter {
    std::string account_id;
    std::string prefix;  // keys whose prefix starts with this
};

// A job with its outbox state.
struct admin_job {
    std::int64_t seq = 0;    // commit order
    bool published = false;  // confirmed by the broker
    model::job job;
};

class admin_store {
  public:
    virtual ~admin_store() = default;

    virtual admin_result<void> create_account(const account_info& account) = 0;  // account_exists
    virtual std::vector<account_info> list_accounts() = 0;

    // Stores a key's hash and visible prefix, never the key. unknown_account.
    virtual admin_result<void> add_api_key(const std::string& account_id, const std::string& key_hash,
                                           const std::string& prefix, std::int64_t now_ms) = 0;
    virtual std::vector<api_key_info> list_api_keys(const api_key_filter& filter) = 0;
    // Revokes the one live key with exactly this prefix (running servers drop it at their next
    // catalog refresh). A key already revoked is returned as it is. unknown_key, ambiguous_prefix.
    virtual admin_result<api_key_info> revoke_api_key(const std::string& prefix, std::int64_t now_ms) = 0;

    virtual void add_operator_key(const std::string& key_hash, const std::string& prefix,
                                  const std::string& name, std::int64_t now_ms) = 0;
    virtual std::vector<operator_key_info> list_operator_keys() = 0;
    virtual admin_result<operator_key_info> revoke_operator_key(const std::string& prefix,
                                                                std::int64_t now_ms) = 0;

    // Adds or replaces a project / image prompt by id. unknown_account; owned_elsewhere when the
    // id belongs to another account (ids are global, and moving one would break that account).
    virtual admin_result<void> put_project(const model::project& project) = 0;
    virtual std::vector<model::project> list_projects(const std::string& account_id) = 0;  // "" = all
    virtual admin_result<void> put_image_prompt(const model::image_prompt& prompt) = 0;
    virtual std::vector<model::image_prompt> list_image_prompts(const std::string& account_id) = 0;

    virtual admin_result<admin_job> find_job(const std::string& uuid) = 0;  // unknown_job
    // Unpublished jobs, oldest first.
    virtual std::vector<admin_job> list_unpublished(std::size_t limit) = 0;
    // Operator override of the forward-only status rule: every job of `type` that ended FAILED
    // because it was dead-lettered (its error starts with model::dead_letter_error_prefix) goes
    // back to QUEUED as its next attempt, unpublished, with progress, output and error cleared, in one
    // transaction; a running jobsd's outbox relay then publishes it again. Oldest first, at most
    // `limit`; returns the uuids. Jobs a worker reported FAILED are left alone.
    virtual std::vector<std::string> requeue_dead_lettered(model::job_type type, std::size_t limit,
                                                           std::int64_t now_ms) = 0;

    // Jobs the broker has (published) that are still QUEUED, STARTED or IN_PROGRESS and were last
    // updated before `updated_before_ms` (the stuck jobs: with no worker, with a silent one, or
    // between queues), of one type or all, the longest silent first, at most `limit`. A job held
    // in the fair queue or waiting for a retry's backoff is not at the broker, so not stuck.
    virtual std::vector<admin_job> list_stuck(std::int64_t updated_before_ms,
                                              std::optional<model::job_type> type, std::size_t limit) = 0;
    // Operator override for a stuck job: a STARTED or IN_PROGRESS job starts its next attempt
    // (QUEUED, unpublished, progress and output cleared) and, in the same transaction, a cancel
    // of the attempt it leaves enters the control outbox, so its worker stops it if it is still
    // alive and nobody runs that attempt again. A running jobsd publishes the new attempt at its
    // next relay sweep. unknown_job, not_running.
    virtual admin_result<admin_job> requeue_job(const std::string& uuid, std::int64_t now_ms) = 0;
};

// "sqlite:PATH" or "postgres://…" / "postgresql://…" (as in store.url). Throws
// std::invalid_argument for any other scheme, naming it,
// and the adapter's error when the store cannot be opened or migrated.
std::unique_ptr<admin_store> open_admin_store(const std::string& url);

}  // namespace jobsd::store

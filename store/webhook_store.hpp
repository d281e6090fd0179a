// The webhook side of the store: endpoints and signing secrets, and the deliveries the store
// records itself, in the transaction of the status change that causes them (store::apply_events
// writes one row per endpoint or job URL that wants the event). The dispatcher claims due rows,
// sends them and records each attempt here; the API and jobsctl manage and list them.
//
// Errors follow store/store.hpp: every completion carries an error_code (store_errc), never an
// exception; "not found" is a value (false, nullopt), not an error.
// Thread safety: every member may be called from any thread concurrently; completions run on the
// handler's associated executor.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/job_record.hpp"

namespace jobsd::store {

using boost::system::error_code;

// The owner name of an account's default secret, the one that signs deliveries to the URLs jobs
// name themselves (`webhook` in the create body), in the API and jobsctl.
inline constexpr std::string_view default_secret_name = "default";

struct webhook_endpoint {
    std::string id;  // "ep_…"
    std::string account_id;
    std::string url;
    unsigned events = 0;  // model/webhook_event.hpp bits
    bool enabled = true;
    std::optional<std::string> disabled_reason;  // why it was disabled ("410 Gone")
    std::int64_t created_ms = 0;
};

// A delivery claimed for sending: where, what, and the secrets that sign it.
struct due_delivery {
    std::string id;  // webhook-id, the same for every attempt
    std::string account_id;
    std::optional<std::string> endpoint_id;  // nullopt for a job's own URL
    std::string url;
    std::string dest;  // what concurrency limits count by (endpoint id or the URL's origin)
    std::string event;
    std::int64_t event_ms = 0;
    int attempts = 0;  // attempts made before this one
    std::string secret_owner;
    std::optional<std::string> secret;           // nullopt: the account has no default secret yet
    std::optional<std::string> previous_secret;  // set while a rotation's overlap lasts
    std::optional<job_record> job;               // the job as it stands; nullopt when it is gone
};

enum class delivery_outcome {
    delivered,  // a 2xx answer
    retry,      // anything else; next attempt at next_ms
    failed,     // anything else, and the schedule is spent
    gone,       // 410 Gone: the endpoint is disabled (a job's URL gets nothing more)
};

// One attempt as the dispatcher saw it, and what becomes of the delivery.
struct attempt_record {
    std::string delivery_id;
    int attempt = 1;  // 1 for the first
    std::int64_t at_ms = 0;
    std::optional<int> status_code;  // nullopt when there was no answer
    std::int64_t latency_ms = 0;
    std::string error;  // "" when answered; otherwise why not (never a secret)
    delivery_outcome outcome = delivery_outcome::retry;
    std::int64_t next_ms = 0;  // outcome retry: when to try again
};

struct delivery_attempt {
    int attempt = 0;
    std::int64_t at_ms = 0;
    std::optional<int> status_code;
    std::int64_t latency_ms = 0;
    std::optional<std::string> error;
};

// A delivery as the listing shows it, with every attempt.
struct delivery_info {
    std::string id;
    std::string job_uuid;
    std::string event;
    std::string status;  // pending, delivered, failed, cancelled
    std::string url;
    int attempts = 0;
    std::int64_t created_ms = 0;
    std::int64_t next_ms = 0;
    std::optional<std::int64_t> done_ms;
    std::vector<delivery_attempt> history;
};

// One attempt with its delivery's destination, for the dashboard.
struct recent_attempt {
    std::string delivery_id;
    std::string account_id;
    std::optional<std::string> endpoint_id;
    std::string url;
    std::string event;
    delivery_attempt attempt;
};

// The backlog, for /metrics and the dashboard.
struct webhook_stats {
    std::uint64_t pending = 0;                  // not yet delivered, failed or cancelled
    std::uint64_t due = 0;                      // of those, due now
    std::optional<std::int64_t> oldest_due_ms;  // the earliest next attempt among the due ones
};

// What one claim asks for.
struct claim_request {
    std::int64_t now_ms = 0;
    std::size_t limit = 0;            // deliveries at most
    std::size_t per_dest = 1;         // at most this many of one destination
    std::vector<std::string> skip;    // destinations not to claim (at their concurrency bound)
    std::int64_t lease_until_ms = 0;  // the claim holds until then
};

template <class... Values>
using webhook_handler = boost::asio::any_completion_handler<void(error_code, Values...)>;

class webhook_store {
  public:
    virtual ~webhook_store() = default;

    // Adds an endpoint (id, account, url, events, created_ms set by the caller) with its secret.
    virtual void create_endpoint(webhook_endpoint endpoint, std::string secret,
                                 webhook_handler<bool> handler) = 0;
    // The endpoints of `account_id` ("" for every account), oldest first.
    virtual void list_endpoints(std::string account_id,
                                webhook_handler<std::vector<webhook_endpoint>> handler) = 0;
    // Removes an endpoint of `account_id` ("" for any) and cancels its pending deliveries; false
    // when there is none.
    virtual void delete_endpoint(std::string account_id, std::string id, webhook_handler<bool> handler) = 0;
    // The account's default secret, stored as `candidate` when it has none yet.
    virtual void account_secret(std::string account_id, std::string candidate,
                                webhook_handler<std::string> handler) = 0;
    // Replaces the secret of endpoint `owner` (or of the account's default one, `owner` ==
    // default_secret_name) with `secret`; the old one keeps signing until `previous_until_ms`.
    // False when the endpoint is not the account's ("" account: any endpoint).
    virtual void rotate_secret(std::string account_id, std::string owner, std::string secret,
                               std::int64_t now_ms, std::int64_t previous_until_ms,
                               webhook_handler<bool> handler) = 0;
    // The newest `limit` deliveries to endpoint `owner` (default_secret_name: to the jobs' own
    // URLs), each with its attempts; nullopt when the endpoint is not the account's.
    virtual void list_deliveries(std::string account_id, std::string owner, std::size_t limit,
                                 webhook_handler<std::optional<std::vector<delivery_info>>> handler) = 0;
    // Makes a delivery of the account due again now (same webhook-id); false when there is none
    // or its endpoint is disabled or removed.
    virtual void redeliver(std::string account_id, std::string delivery_id, std::int64_t now_ms,
                           webhook_handler<bool> handler) = 0;

    // Claims due deliveries, oldest due first, for this instance until the lease ends. A store
    // shared by several instances gives each delivery to one claimer at a time; a store with no
    // sharing (SQLite) holds each in memory until its attempt is recorded, with no lease.
    virtual void claim_deliveries(claim_request request,
                                  webhook_handler<std::vector<due_delivery>> handler) = 0;
    // Records attempts (one transaction) and what becomes of their deliveries; releases their
    // claims. Completes with how many deliveries were still pending and got updated.
    virtual void finish_attempts(std::vector<attempt_record> attempts,
                                 webhook_handler<std::size_t> handler) = 0;
    // At start: drops the claims this instance held before a restart (and, with no sharing, every
    // hold in memory), so its due deliveries are sent again at once rather than after their lease.
    virtual void release_claims(webhook_handler<std::size_t> handler) = 0;

    virtual void read_webhook_stats(std::int64_t now_ms, webhook_handler<webhook_stats> handler) = 0;
    // The newest `limit` attempts across accounts (operator views).
    virtual void recent_attempts(std::size_t limit, webhook_handler<std::vector<recent_attempt>> handler) = 0;
};

// The completion-token front end of every member: `co_await async_webhook<bool>(ws,
// &webhook_store::delete_endpoint, asio::use_awaitable, account, id)`; the member's handler
// parameter is filled from the token.
template <class Value, class Token, class Member, class... Args>
auto async_webhook(webhook_store& ws, Member member, Token&& token, Args... args) {
    return boost::asio::async_initiate<Token, void(error_code, Value)>(
        [&ws, member](auto handler, Args... a) { (ws.*member)(std::move(a)..., std::move(handler)); }, token,
        std::move(args)...);
}

}  // namespace jobsd::store

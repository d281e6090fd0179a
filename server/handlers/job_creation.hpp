// What a single create and a batch create share: a new job from a validated body, the rate
// headers, and what happens once jobs are committed (counters, the QUEUED event, the publisher).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

#include "model/create_request.hpp"
#include "model/job.hpp"
#include "server/route.hpp"

namespace jobsd::server::handlers {

// The job this account created earlier with the same Idempotency-Key, within the store's window.
// A store failure throws (server/error_boundary.hpp).
boost::asio::awaitable<std::optional<model::job>> find_by_key(const request_context& ctx,
                                                              std::string_view key);

void set_rate_headers(response& res, const rate_decision& d);

// Takes `tokens` from the account's rate limit when it is on: nullopt with `d` set when they were
// there (or the limit is off), a 429 with Retry-After and the rate headers when not.
std::optional<response> take_rate_tokens(const services& svc, const std::string& account_id, double tokens,
                                         std::optional<rate_decision>& d);

// 400 when an Idempotency-Key header is longer than 255 characters or is not UTF-8 text
// (model/storable_text.hpp); nullopt when it is fine or absent.
std::optional<response> check_idempotency_key(std::string_view key);

// 503 with Retry-After while more than server.max_outbox_backlog jobs wait for the broker.
std::optional<response> check_outbox_backlog(const services& svc);

// The bounds a create body is checked against (lifecycle.max_expires_in_s), single or batch.
model::create_limits create_limits_of(const services& svc);

// A QUEUED job of the caller's account with a fresh uuid; `input` is the job's own body. Its
// time to live is the body's expires_in_s, else its type's default (lifecycle), else none. Its
// traceparent continues the request's `traceparent` header, or starts a new trace.
model::job new_job(const request_context& ctx, const model::create_request& create, std::string source_id,
                   std::string_view input, std::int64_t now);

// Counts a job about to be committed against its type's fair queue, and holds it there (fair_key
// set) when its type's broker queue is full (server/job_release.hpp). Only for a job the request
// will commit: once every check of the request has passed, before publisher_copy.
void admit_to_fair_queue(const services& svc, model::job& job);

// The publisher's copy of a job about to be committed (it needs no idempotency fields), or
// nullopt when publishing is off or the job is held.
std::optional<model::job> publisher_copy(const services& svc, const model::job& job);

// After the commit: counters, the QUEUED event for session subscribers, and the publisher's copy
// of the job (made before the commit, since the store takes the job itself); a debug line with
// the job's trace id. Never blocks.
void announce_created(const request_context& ctx, model::job_type type, std::string_view session_id,
                      const std::string& uuid, std::string_view traceparent, std::int64_t now,
                      std::optional<model::job> for_publisher);

}  // namespace jobsd::server::handlers

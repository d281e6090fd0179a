// POST /jobs/v2 (create a job) and GET /jobs/:id (read one), the hosted API's job routes. The
// list and the batch are server/handlers/job_list.hpp and job_batch.hpp.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>

#include "server/route.hpp"

namespace jobsd::server::handlers {

// Before the body is read: the account's rate limit, the outbox backlog bound, a JSON body within
// the size limit. Refusals here cost no body read and no parse.
std::optional<response> check_create_job(const services& svc, const http::request_header<>& header,
                                         caller& who);

// Validates, resolves the project, commits (group commit) and answers 201 once durable; replays
// an earlier 201 for a repeated Idempotency-Key. Hands the committed job to the publisher.
boost::asio::awaitable<response> create_job(const request_context& ctx);

// The key's own job, or 404 (for another account's too: no hint that it exists).
boost::asio::awaitable<response> get_job(const request_context& ctx);

}  // namespace jobsd::server::handlers

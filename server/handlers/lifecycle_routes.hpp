// POST /jobs/:id/cancel and POST /jobs/:id/retry: the owner stops a job or runs it again
// (issue 16). Another account's job, like an unknown one, is 404 with no hint that it exists.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>

#include "server/route.hpp"

namespace jobsd::server::handlers {

// Before the body is read: no body at all, or a small JSON one (415, 413 otherwise).
std::optional<response> check_optional_body(const services& svc, const http::request_header<>& header,
                                            caller& who);

// QUEUED: 200, CANCELLED at once (out of the outbox; a worker that gets it anyway acks it unrun).
// STARTED or IN_PROGRESS: 202, the cancel request goes to the worker holding it. CANCELLED
// already: 200 again. SUCCESS, FAILED, EXPIRED: 409 with the status.
boost::asio::awaitable<response> cancel_job(const request_context& ctx);

// FAILED, CANCELLED or EXPIRED: 202, QUEUED again as the next attempt (committed before the
// answer, then handed to the publisher). Otherwise 409 with the status.
boost::asio::awaitable<response> retry_job(const request_context& ctx);

}  // namespace jobsd::server::handlers

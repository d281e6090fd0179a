// POST /jobs/v2/batch: many jobs in one request, all or none. Every job is validated and
// resolved exactly as POST /jobs/v2 would; one invalid job refuses the whole batch (400 listing
// each failing job's index and problems) and nothing is committed. Otherwise all are committed in
// one store transaction, answered 201 with the jobs in order, then published as usual.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>

#include "server/route.hpp"

namespace jobsd::server::handlers {

// Before the body is read: the outbox backlog bound, a JSON body within server.batch_body_limit.
// (The rate limit takes one token per job, so it is applied once the jobs are counted.)
std::optional<response> check_create_batch(const services& svc, const http::request_header<>& header,
                                           caller& who);

// Idempotency-Key covers the whole batch: a repeat replays the first 201 (the same jobs, in
// order), another body with the key gets 422.
boost::asio::awaitable<response> create_batch(const request_context& ctx);

}  // namespace jobsd::server::handlers

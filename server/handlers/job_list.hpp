// GET /jobs/v2: a page of the key's own jobs, newest first, with filters; the next page through an
// opaque cursor (in the body and in a Link header).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/route.hpp"

namespace jobsd::server::handlers {

// 400 naming the parameter for a bad filter, limit or cursor (server/list_query.hpp); otherwise
// 200 with up to `limit` jobs (fewer when server.list_max_bytes ends the page early).
boost::asio::awaitable<response> list_jobs(const request_context& ctx);

}  // namespace jobsd::server::handlers

// The operator's routes: GET /api/queues and GET /api/dashboard (operator key), and the
// dashboard's static page and files (no key: they hold no data). The data comes from
// server/operator_api, which caches every broker and store read.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/route.hpp"

namespace jobsd::server::handlers {

boost::asio::awaitable<response> queues(const request_context& ctx);
boost::asio::awaitable<response> dashboard_data(const request_context& ctx);
// `:file` is optional: /dashboard serves index.html.
boost::asio::awaitable<response> dashboard_page(const request_context& ctx);

}  // namespace jobsd::server::handlers

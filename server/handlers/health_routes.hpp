// GET /healthz (alive, and whether the broker is connected), GET /readyz (503 with the reasons
// while a job posted now would not be committed and on its way) and GET /metrics (Prometheus
// text). None needs a key.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/route.hpp"

namespace jobsd::server::handlers {

boost::asio::awaitable<response> healthz(const request_context& ctx);
boost::asio::awaitable<response> readyz(const request_context& ctx);
boost::asio::awaitable<response> metrics_page(const request_context& ctx);

}  // namespace jobsd::server::handlers

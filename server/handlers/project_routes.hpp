// GET /api/provider/projects/active and GET /api/provider/projects/:projectId/mapping-fields: the
// key's projects, read from the catalog snapshot admission checked the key against (no store
// round trip).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/route.hpp"

namespace jobsd::server::handlers {

boost::asio::awaitable<response> active_projects(const request_context& ctx);
boost::asio::awaitable<response> mapping_fields(const request_context& ctx);

}  // namespace jobsd::server::handlers

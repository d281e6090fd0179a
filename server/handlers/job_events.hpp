// GET /jobs/v2/events?session_id=…: every status change of the key's jobs that carry that session
// id, as Server-Sent Events, until the client goes away.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>

#include "server/route.hpp"

namespace jobsd::server::handlers {

// 400 without a session_id; otherwise takes the connection over and streams.
boost::asio::awaitable<std::optional<response>> job_events(const request_context& ctx, event_stream& stream);

}  // namespace jobsd::server::handlers

// One client connection: a coroutine that reads requests, answers them in order, and keeps
// the connection alive until the client, a timeout or an error ends it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/api.hpp"

namespace jobsd::server {

// Runs on the socket's executor (one io thread); never blocks it.
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, const api& handlers,
                                         const server_options& options);

// Answers 503 with Retry-After and closes: the connection is over the configured maximum.
boost::asio::awaitable<void> refuse_connection(boost::asio::ip::tcp::socket socket, const server_options& options);

}  // namespace jobsd::server

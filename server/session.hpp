// One client connection: a coroutine that reads requests, answers them in order, and keeps
// the connection alive until the client, a timeout or an error ends it. Plain HTTP or over TLS.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "server/api.hpp"
#include "server/config.hpp"

namespace jobsd::server {

// Runs on the socket's executor (one io thread); never blocks it.
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, const api& handlers,
                                         const server_options& options);

// The same over TLS: the handshake first, within tls.handshake_timeout, then the same requests
// under the same limits, then close_notify (bounded by the same timeout). `context` is shared by
// every session and must outlive them.
boost::asio::awaitable<void> run_tls_session(boost::asio::ip::tcp::socket socket,
                                             boost::asio::ssl::context& context, const api& handlers,
                                             const server_options& options, const tls_options& tls);

// Answers 503 with Retry-After and closes: the connection is over the configured maximum.
boost::asio::awaitable<void> refuse_connection(boost::asio::ip::tcp::socket socket,
                                               const server_options& options);

// The same over TLS (the refusal is only readable after a handshake).
boost::asio::awaitable<void> refuse_tls_connection(boost::asio::ip::tcp::socket socket,
                                                   boost::asio::ssl::context& context,
                                                   const server_options& options, const tls_options& tls);

}  // namespace jobsd::server

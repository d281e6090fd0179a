// The webhook routes, all with the account's key: endpoints (POST/GET /api/webhooks, DELETE
// /api/webhooks/:id), their deliveries (GET /api/webhooks/:id/deliveries, POST
// /api/webhooks/deliveries/:id/redeliver), and signing secrets (GET /api/webhooks/default/secret,
// POST /api/webhooks/:id/rotate-secret). `default` names the account's default secret, the one
// that signs deliveries to the URLs jobs name themselves, and the deliveries to those URLs.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>

#include "server/route.hpp"

namespace jobsd::server::handlers {

// A JSON body within the size limit, before it is read.
std::optional<response> check_webhook_body(const services& svc, const http::request_header<>& header,
                                           caller& who);

// 201 with the endpoint and its secret (shown this once).
boost::asio::awaitable<response> create_webhook(const request_context& ctx);
boost::asio::awaitable<response> list_webhooks(const request_context& ctx);
// 204, or 404 for an endpoint that is not the account's.
boost::asio::awaitable<response> delete_webhook(const request_context& ctx);
// The newest deliveries (`?limit=`, 20 by default, 100 at most), each with its attempts.
boost::asio::awaitable<response> webhook_deliveries(const request_context& ctx);
// 202: the delivery is due again now, with the same webhook-id.
boost::asio::awaitable<response> redeliver_webhook(const request_context& ctx);
// The default secret, made on first read.
boost::asio::awaitable<response> default_webhook_secret(const request_context& ctx);
// A new secret (shown this once); the previous one keeps signing for webhooks.secret_overlap_ms.
boost::asio::awaitable<response> rotate_webhook_secret(const request_context& ctx);

}  // namespace jobsd::server::handlers

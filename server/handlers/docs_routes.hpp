// The API reference: GET /openapi.json (the OpenAPI 3.1 document of every public route) and the
// page GET /docs that renders it in the browser. No key: they describe the API, they hold no data.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/route.hpp"

namespace jobsd::server::handlers {

boost::asio::awaitable<response> openapi_document(const request_context& ctx);
// `:file` is optional: /docs serves index.html, which loads docs.css, docs.js and /openapi.json.
boost::asio::awaitable<response> docs_page(const request_context& ctx);

}  // namespace jobsd::server::handlers

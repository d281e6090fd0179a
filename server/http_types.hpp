// The request and response types the server speaks, and JSON response helpers.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "model/create_request.hpp"

namespace jobsd::server {

namespace http = boost::beast::http;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// A JSON response with Content-Type set and the length prepared.
response json_response(http::status status, std::string body);

// The headers every page meant for a browser carries (the dashboard, the API reference): a
// Content-Security-Policy allowing only the page's own origin (no inline script, no framing),
// no Referer sent onwards, no content sniffing.
void set_page_security_headers(response& res);

// {"message": "..."}
response message_response(http::status status, std::string_view message);

// 400 {"message": "...", "errors": [{"field", "problem"}…]}
response request_error_response(const model::request_error& error);

}  // namespace jobsd::server

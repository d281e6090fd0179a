// A message's start line and header fields as they go on the wire, so it leaves in one gathered
// write (head, body) instead of Beast's serializer walking its buffer views: the server's answers
// and the webhook sender's requests.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

#include "server/http_types.hpp"

namespace jobsd::server {

// "HTTP/1.x <code> <reason>\r\n", every field as set ("Name: value\r\n"), then "\r\n". The fields
// are written as they are: Content-Length and Connection must already be set (prepare_payload,
// keep_alive), as Beast's serializer would expect too.
std::string response_head(const response& res);

// "<METHOD> <target> HTTP/1.x\r\n", then the fields as response_head writes them.
std::string request_head(const http::request<http::string_body>& req);

}  // namespace jobsd::server

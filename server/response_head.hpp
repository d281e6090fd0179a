// An answer's status line and header fields as they go on the wire, so the answer leaves in one
// gathered write (head, body) instead of Beast's serializer walking its buffer views.
#pragma once

#include <string>

#include "server/http_types.hpp"

namespace jobsd::server {

// "HTTP/1.x <code> <reason>\r\n", every field as set ("Name: value\r\n"), then "\r\n". The fields
// are written as they are: Content-Length and Connection must already be set (prepare_payload,
// keep_alive), as Beast's serializer would expect too.
std::string response_head(const response& res);

}  // namespace jobsd::server

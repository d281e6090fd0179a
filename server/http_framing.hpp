// Request framing that two HTTP implementations could read differently (the stuff of request
// smuggling) is refused before anything else looks at the request. Pure code; no I/O.
#pragma once

#include <boost/beast/http/message.hpp>

#include <string_view>

namespace jobsd::server {

// Why the header's framing is ambiguous, or "" when it is not: Content-Length together with
// Transfer-Encoding, several Content-Length or Transfer-Encoding fields, a Transfer-Encoding
// other than exactly "chunked" (Boost 1.81's parser lets "gzip" or "xchunked" through),
// chunked on HTTP/1.0, HTTP/1.1 without exactly one Host.
std::string_view framing_problem(const boost::beast::http::request_header<>& header);

}  // namespace jobsd::server

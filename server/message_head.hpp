// A message's start line and header fields as they go on the wire, so it leaves in one gathered
// write (head, body) instead of Beast's serializer walking its buffer views: the server's answers
// and the webhook sender's requests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <tuple>

#include "server/http_types.hpp"
#include "server/use_nothrow.hpp"

namespace jobsd::server {

// "HTTP/1.x <code> <reason>\r\n", every field as set ("Name: value\r\n"), then "\r\n". The fields
// are written as they are: Content-Length and Connection must already be set (prepare_payload,
// keep_alive), as Beast's serializer would expect too.
std::string response_head(const response& res);

// "<METHOD> <target> HTTP/1.x\r\n", then the fields as response_head writes them.
std::string request_head(const http::request<http::string_body>& req);

// Writes `msg` (its length set, not chunked) as its head and its body in one gathered write.
template <class Stream, bool isRequest>
boost::asio::awaitable<std::tuple<boost::beast::error_code, std::size_t>> async_write_gathered(
    Stream& stream, const http::message<isRequest, http::string_body>& msg) {
    std::string head;
    if constexpr (isRequest)
        head = request_head(msg);
    else
        head = response_head(msg);
    const std::array<boost::asio::const_buffer, 2> parts{boost::asio::buffer(head),
                                                         boost::asio::buffer(msg.body())};
    co_return co_await boost::asio::async_write(stream, parts, use_nothrow);
}

}  // namespace jobsd::server

// Writing answers on a client connection, plain TCP or TLS: head and body in one gathered write,
// under deadlines that cut off a reader who stops but serve one who is slow; the head alone for a
// HEAD; and the lingering close after an answer that ends the connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>

#include "server/config.hpp"
#include "server/http_types.hpp"
#include "server/message_head.hpp"
#include "server/use_nothrow.hpp"

namespace jobsd::server {

// The answer to a HEAD: the head the GET would have had, Content-Length included, and no body.
void drop_body_for_head(response& res);

// After an answer that closed the connection the client may still be sending: the rest of a body
// past its limit, a body it was told to wait with, pipelined requests. Closing with those bytes
// unread makes the kernel reset the connection, and a reset can destroy the answer before the
// client reads it (RFC 9112 §9.6). So, once our side is shut down, what comes is read and dropped
// until the client closes, for `at_most` (server.linger_ms; none when 0).
boost::asio::awaitable<void> linger_before_close(boost::beast::tcp_stream& stream,
                                                 std::chrono::milliseconds at_most);

// What the socket did not take at once of an answer: each write must make progress within
// read_timeout, and the whole answer must be out within body_timeout (a slow reader of a large
// page is served; one that stops reading is cut off).
template <class Stream, class Buffers>
boost::asio::awaitable<std::tuple<boost::beast::error_code, std::size_t>> write_with_progress(
    Stream& stream, const Buffers& buffers, const server_options& o) {
    boost::beast::buffers_suffix<Buffers> rest(buffers);
    const auto until = std::chrono::steady_clock::now() + o.whole_message_timeout();
    std::size_t total = 0;
    while (boost::asio::buffer_size(rest) > 0) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        boost::beast::get_lowest_layer(stream).expires_after(
            std::max(std::chrono::milliseconds(1), std::min(o.read_timeout, left)));
        auto [ec, n] = co_await stream.async_write_some(rest, use_nothrow);
        rest.consume(n);
        total += n;
        if (ec) co_return std::tuple{ec, total};
    }
    co_return std::tuple{boost::beast::error_code{}, total};
}

// Plain TCP whose socket was made non-blocking (run_session): the answer is first offered to the
// socket as it is, head and body in one gathered write. One that fits the socket's send buffer,
// nearly every one, has left with no asynchronous operation and no timer armed and cancelled for
// it; the rest of one that does not is written asynchronously, under the deadlines above.
boost::asio::awaitable<std::tuple<boost::beast::error_code, std::size_t>> write_at_once(
    boost::beast::tcp_stream& stream, response& res, const server_options& o);

// Writes an answer: its head and body in one gathered write. A chunked answer (none today) goes
// through Beast's serializer, which frames the chunks.
template <class Stream>
boost::asio::awaitable<std::tuple<boost::beast::error_code, std::size_t>> write_response(
    Stream& stream, response& res, const server_options& o) {
    if (res.chunked()) {
        boost::beast::get_lowest_layer(stream).expires_after(o.read_timeout);
        co_return co_await http::async_write(stream, res, use_nothrow);
    }
    if constexpr (std::is_same_v<Stream, boost::beast::tcp_stream>) {
        co_return co_await write_at_once(stream, res, o);
    } else {
        const std::string head = response_head(res);
        const std::array<boost::asio::const_buffer, 2> parts{boost::asio::buffer(head),
                                                             boost::asio::buffer(res.body())};
        co_return co_await write_with_progress(stream, parts, o);
    }
}

}  // namespace jobsd::server

// The non-template half of server/answer_writing.hpp.
#include "server/answer_writing.hpp"

namespace jobsd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;

void drop_body_for_head(response& res) {
    if (!res.has_content_length() && !res.chunked()) res.content_length(res.body().size());
    res.body().clear();
}

asio::awaitable<void> linger_before_close(beast::tcp_stream& stream, std::chrono::milliseconds at_most) {
    if (at_most.count() <= 0) co_return;
    std::array<char, 4096> sink;
    stream.expires_after(at_most);
    for (;;) {
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
        if (ec) break;
    }
}

asio::awaitable<std::tuple<beast::error_code, std::size_t>> write_at_once(beast::tcp_stream& stream,
                                                                          response& res,
                                                                          const server_options& o) {
    const std::string head = response_head(res);
    const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(res.body())};
    std::size_t sent = 0;
    if (stream.socket().non_blocking()) {
        beast::error_code ec;
        sent = stream.socket().write_some(parts, ec);
        if (ec == asio::error::would_block) ec = {};
        if (ec || sent == asio::buffer_size(parts)) co_return std::tuple{ec, sent};
    }
    beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(parts);
    rest.consume(sent);
    auto [wec, more] = co_await write_with_progress(stream, rest, o);
    co_return std::tuple{wec, sent + more};
}

}  // namespace jobsd::server

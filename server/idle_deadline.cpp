#include "server/idle_deadline.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobsd::server {

namespace asio = boost::asio;

void idle_deadline::arm(asio::ip::tcp::socket& socket, std::chrono::steady_clock::duration timeout) {
    const std::uint64_t mine = ++waits_;
    timer_.expires_after(timeout);
    ++handlers_;
    timer_.async_wait([this, mine, &socket](boost::system::error_code ec) {
        --handlers_;
        // Only while still armed: the handler may run after the wait ended, in the same turn,
        // when the connection has gone on to read the request.
        if (!ec && mine == waits_) socket.cancel();
    });
}

void idle_deadline::disarm() {
    ++waits_;
    timer_.cancel();
}

asio::awaitable<void> idle_deadline::settle() {
    while (handlers_ > 0) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

}  // namespace jobsd::server

// The deadline of a keep-alive connection's wait for its next request (readability of the
// socket, no buffer held). Each wait's deadline acts on that wait alone: one that passes in the
// same turn as the socket turned readable (both handlers queued together) cancels nothing the
// connection does next, and no deadline handler outlives the connection (settle()).
//
//     deadline.arm(socket, timeout);
//     auto [ec] = co_await socket.async_wait(wait_read, ...);  // operation_aborted: timed out
//     deadline.disarm();
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace jobsd::server {

class idle_deadline {
  public:
    explicit idle_deadline(const boost::asio::any_io_executor& ex) : timer_(ex) {}

    // At `timeout` from now, cancels `socket`'s operations unless disarm() came first.
    void arm(boost::asio::ip::tcp::socket& socket, std::chrono::steady_clock::duration timeout);
    // The wait ended: from here the deadline's handler, queued already or not, acts on nothing.
    void disarm();

    // Returns once every deadline handler has run: before the socket and this object go.
    boost::asio::awaitable<void> settle();

  private:
    boost::asio::steady_timer timer_;
    std::uint64_t waits_ = 0;   // arms and disarms: an armed deadline's number while it is armed
    std::size_t handlers_ = 0;  // deadline handlers not run yet
};

}  // namespace jobsd::server

// The completion token the server's coroutines use to get error codes as values instead of
// exceptions: `auto [ec, n] = co_await op(..., use_nothrow);`.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobsd::server {

constexpr auto use_nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace jobsd::server

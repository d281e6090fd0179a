// The one completion token the bench's coroutines use: the error code comes back with the
// results instead of being thrown (a refused or reset connection is counted, not an exception).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobsd::bench {

inline constexpr auto use_nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace jobsd::bench

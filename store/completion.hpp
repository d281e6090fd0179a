// Handing a result computed on a store thread back to the waiter, on the waiter's executor.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>

#include <tuple>
#include <utility>

namespace jobsd::store {

// Runs `handler(args...)` through its associated executor: from a foreign thread this posts,
// so the waiting coroutine resumes on its own io thread, never on the store's.
template <class Signature, class... Args>
void complete(boost::asio::any_completion_handler<Signature> handler, Args&&... args) {
    auto ex = boost::asio::get_associated_executor(handler);
    boost::asio::dispatch(
        ex, [h = std::move(handler), values = std::make_tuple(std::forward<Args>(args)...)]() mutable {
            std::apply(std::move(h), std::move(values));
        });
}

}  // namespace jobsd::store

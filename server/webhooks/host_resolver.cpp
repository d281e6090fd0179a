#include "server/webhooks/host_resolver.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "server/use_nothrow.hpp"

namespace jobsd::server::webhooks {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// One lookup's meeting point: the pool's thread leaves its answer here (on the waiter's
// executor) and ends the waiter's timer early. Shared, so either side may be the last.
struct pending {
    explicit pending(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::atomic<bool> abandoned{false};  // the waiter gave up (set on its executor, read anywhere)
    bool answered = false;               // on the waiter's executor only, as are the two below
    error_code ec;
    host_resolver::endpoints found;
};

}  // namespace

host_resolver::host_resolver(unsigned threads, lookup_fn lookup) : lookup_(std::move(lookup)) {
    for (unsigned i = 0; i < std::max(threads, 1u); ++i)
        threads_.emplace_back([this] {
            ::pthread_setname_np(::pthread_self(), "jobsd-dns");  // as top -H and perf show it
            pool_.run();
        });
}

host_resolver::~host_resolver() {
    pool_.stop();
    for (auto& t : threads_) t.join();
}

asio::awaitable<std::pair<error_code, host_resolver::endpoints>> host_resolver::resolve(
    std::string host, std::string port, std::chrono::milliseconds timeout) {
    const auto ex = co_await asio::this_coro::executor;
    auto p = std::make_shared<pending>(ex);
    p->timer.expires_after(timeout);
    asio::post(pool_, [this, p, ex, host = std::move(host), port = std::move(port)] {
        if (p->abandoned.load()) return;
        error_code ec;
        auto found = lookup_ ? lookup_(host, port, ec) : system_lookup(host, port, ec);
        asio::post(ex, [p, ec, found = std::move(found)]() mutable {
            if (p->abandoned.load()) return;
            p->answered = true;
            p->ec = ec;
            p->found = std::move(found);
            p->timer.cancel();
        });
    });
    co_await p->timer.async_wait(use_nothrow);
    // An answer and the deadline in the same turn: the answer counts.
    if (!p->answered) {
        p->abandoned = true;
        co_return std::pair{error_code(asio::error::timed_out), endpoints{}};
    }
    co_return std::pair{p->ec, std::move(p->found)};
}

host_resolver::endpoints host_resolver::system_lookup(const std::string& host, const std::string& port,
                                                      error_code& ec) {
    asio::ip::tcp::resolver resolver(pool_);  // a blocking resolve: getaddrinfo on this thread
    endpoints out;
    for (const auto& entry : resolver.resolve(host, port, asio::ip::tcp::resolver::numeric_service, ec))
        out.push_back(entry.endpoint());
    return out;
}

}  // namespace jobsd::server::webhooks

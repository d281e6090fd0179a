// One coroutine per connection: connect, one GET, read the answer, then wait for the server to
// close (counted) or for the hold to end. A counter tracks connections still opening.
#include "bench/jobs_bench/idle_connections.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/jobs_bench/asio_tokens.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace jobsd::bench {

namespace {

struct shared_idle {
    const idle_plan& plan;
    tcp::endpoint endpoint;
    std::atomic<std::uint64_t> answered{0}, failed{0}, closed_early{0}, opening{0};
    std::atomic<bool> stopping{false};
    std::mutex error_mutex;
    std::string first_error;

    void fail(const std::string& what) {
        failed.fetch_add(1);
        std::lock_guard lock(error_mutex);
        if (first_error.empty()) first_error = what;
    }
};

asio::awaitable<void> hold_one(shared_idle& sh) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(sh.plan.timeout);
    bool ok = false;
    if (auto [ec] = co_await stream.async_connect(sh.endpoint, use_nothrow); ec) {
        sh.fail("connect: " + ec.message());
    } else {
        http::request<http::empty_body> req{http::verb::get, sh.plan.path, 11};
        req.set(http::field::host, sh.plan.host + ":" + sh.plan.port);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        if (auto [wec, wn] = co_await http::async_write(stream, req, use_nothrow); wec) {
            sh.fail("write: " + wec.message());
        } else if (auto [rec, rn] = co_await http::async_read(stream, buffer, res, use_nothrow); rec) {
            sh.fail("read: " + rec.message());
        } else if (res.result_int() / 100 != 2) {
            sh.fail("answer " + std::to_string(res.result_int()));
        } else {
            sh.answered.fetch_add(1);
            ok = true;
        }
    }
    sh.opening.fetch_sub(1);
    if (!ok) co_return;
    // Idle: the only thing that can arrive is the server closing the connection. The hold ends
    // with the io_context being stopped, which abandons this read.
    stream.expires_never();
    char byte = 0;
    co_await stream.async_read_some(asio::buffer(&byte, 1), use_nothrow);
    if (!sh.stopping.load()) sh.closed_early.fetch_add(1);
}

}  // namespace

idle_outcome hold_idle_connections(const idle_plan& plan, const std::function<void(std::uint64_t)>& on_open) {
    idle_outcome out;
    shared_idle sh{plan, {}, {}, {}, {}, {}, {}, {}, {}};
    {
        asio::io_context resolver_io;
        tcp::resolver resolver(resolver_io);
        beast::error_code ec;
        auto results = resolver.resolve(plan.host, plan.port, ec);
        if (ec || results.empty()) {
            out.fatal = "cannot resolve " + plan.host + ":" + plan.port + (ec ? ": " + ec.message() : "");
            return out;
        }
        sh.endpoint = *results.begin();
    }
    const unsigned threads = std::max(1u, plan.threads);
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned t = 0; t < threads; ++t) contexts.push_back(std::make_unique<asio::io_context>(1));
    sh.opening = plan.connections;
    for (unsigned c = 0; c < plan.connections; ++c)
        asio::co_spawn(*contexts[c % threads], hold_one(sh), asio::detached);
    std::vector<std::thread> workers;
    for (auto& io : contexts) workers.emplace_back([&io] { io->run(); });

    while (sh.opening.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (on_open) on_open(sh.answered.load());
    std::this_thread::sleep_for(plan.hold);
    sh.stopping = true;
    for (auto& io : contexts) io->stop();
    for (auto& w : workers) w.join();
    contexts.clear();  // destroys the held coroutines, closing their sockets

    out.answered = sh.answered;
    out.failed = sh.failed;
    out.closed_early = sh.closed_early;
    out.first_error = sh.first_error;
    return out;
}

}  // namespace jobsd::bench

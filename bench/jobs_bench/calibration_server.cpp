// One acceptor coroutine, one coroutine per connection; the answer is prebuilt bytes shaped like
// jobsd's 201, so the client does the same parsing work as against the real server.
#include "bench/jobs_bench/calibration_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <mutex>
#include <string>

#include "bench/jobs_bench/asio_tokens.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace jobsd::bench {

namespace {

const std::string& fixed_answer() {
    static const std::string answer = [] {
        const std::string body =
            R"({"message":"Job update accepted and processing.","job":{"uuid":"00000000-0000-4000-8000-000000000000",)"
            R"("job_status":"QUEUED","job_type":"ai_talking_video","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e"}})";
        return "HTTP/1.1 201 Created\r\nServer: jobs-bench-calibration\r\nContent-Type: application/json\r\n"
               "Content-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    return answer;
}

struct request_count {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::int64_t> last_ns{0};
    bool record = false;  // keep each request's first "uuid" and arrival (webhook receiver)
    std::mutex mutex;
    std::vector<calibration_server::arrival> arrivals;  // guarded by mutex
};

// A webhook body's first "uuid" member is its job's ({"type", "timestamp", "data": {"uuid", …}}):
// found by text, so the receiver stays as cheap as the 201 it answers.
void record_arrival(request_count& count, const std::string& body, std::int64_t now_ns) {
    static constexpr std::string_view key = R"("uuid":")";
    const auto at = body.find(key);
    if (at == std::string::npos || at + key.size() + 36 > body.size()) return;
    std::lock_guard lock(count.mutex);
    count.arrivals.push_back({body.substr(at + key.size(), 36), now_ns});
}

asio::awaitable<void> serve(tcp::socket socket, request_count& count) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(1 << 20);
    const std::string& answer = fixed_answer();
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(1 << 20);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (ec) break;
        const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count();
        if (count.record) record_arrival(count, parser.get().body(), now_ns);
        count.requests.fetch_add(1, std::memory_order_relaxed);
        count.last_ns.store(now_ns, std::memory_order_relaxed);
        auto [wec, w] = co_await asio::async_write(stream, asio::buffer(answer), use_nothrow);
        if (wec || !parser.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, asio::io_context& ioc, request_count& count) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), use_nothrow);
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) continue;
        socket.set_option(tcp::no_delay(true), ec);
        asio::co_spawn(socket.get_executor(), serve(std::move(socket), count), asio::detached);
    }
}

}  // namespace

struct calibration_server::impl {
    asio::io_context ioc;
    tcp::acceptor acceptor;
    request_count count;
    explicit impl(unsigned threads) : ioc(static_cast<int>(threads)), acceptor(ioc) {}
};

calibration_server::calibration_server(unsigned threads, bool record_arrivals)
    : impl_(std::make_unique<impl>(threads)) {
    impl_->count.record = record_arrivals;
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen(asio::socket_base::max_listen_connections);
    port_ = impl_->acceptor.local_endpoint().port();
    asio::co_spawn(impl_->ioc, accept_loop(impl_->acceptor, impl_->ioc, impl_->count), asio::detached);
    for (unsigned t = 0; t < std::max(1u, threads); ++t) threads_.emplace_back([this] { impl_->ioc.run(); });
}

calibration_server::~calibration_server() {
    stop();
}

std::uint64_t calibration_server::requests() const noexcept {
    return impl_->count.requests.load(std::memory_order_relaxed);
}

std::int64_t calibration_server::last_request_ns() const noexcept {
    return impl_->count.last_ns.load(std::memory_order_relaxed);
}

std::vector<calibration_server::arrival> calibration_server::take_arrivals() {
    std::lock_guard lock(impl_->count.mutex);
    return std::exchange(impl_->count.arrivals, {});
}

void calibration_server::stop() {
    if (threads_.empty()) return;
    impl_->ioc.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
}

}  // namespace jobsd::bench

// Plain blocking socket on a reader thread; the stream is line-based text.
#include "tests/support/sse_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace jobsd::test {

namespace asio = boost::asio;

struct sse_client::impl {
    asio::io_context ioc;
    asio::ip::tcp::socket socket{ioc};
    mutable std::mutex mu;
    mutable std::condition_variable cv;
    std::vector<boost::json::value> events;  // guarded by mu
    std::vector<std::string> notices;        // guarded by mu: the names of other events
    bool ended = false;                      // guarded by mu: jobsd closed the stream
    std::thread reader;
    std::string pending;

    void parse_lines() {
        for (;;) {
            const auto end = pending.find("\n\n");
            if (end == std::string::npos) return;
            const std::string block = pending.substr(0, end);
            pending.erase(0, end + 2);
            std::string event_name, data;
            std::size_t pos = 0;
            while (pos < block.size()) {
                auto nl = block.find('\n', pos);
                const std::string line =
                    block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
                pos = nl == std::string::npos ? block.size() : nl + 1;
                if (line.rfind("event: ", 0) == 0) event_name = line.substr(7);
                if (line.rfind("data: ", 0) == 0) data += line.substr(6);
            }
            if (event_name == "status" && !data.empty()) {
                std::lock_guard lock(mu);
                events.push_back(boost::json::parse(data));
                cv.notify_all();
            } else if (!event_name.empty()) {
                std::lock_guard lock(mu);
                notices.push_back(event_name);
                cv.notify_all();
            }
        }
    }
};

sse_client::sse_client(const std::string& host, unsigned short port, const std::string& api_key,
                       const std::string& session_id)
    : impl_(std::make_unique<impl>()) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(host), port);
    impl_->socket.connect(ep);
    const std::string req = "GET /jobs/v2/events?session_id=" + session_id + " HTTP/1.1\r\nHost: " + host +
                            "\r\nx-api-key: " + api_key + "\r\nAccept: text/event-stream\r\n\r\n";
    asio::write(impl_->socket, asio::buffer(req));
    // Read the header block.
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos) {
        asio::read(impl_->socket, asio::buffer(&c, 1));
        head.push_back(c);
    }
    if (head.rfind("HTTP/1.1 200", 0) != 0) throw std::runtime_error("event stream refused: " + head);
    impl_->reader = std::thread([i = impl_.get()] {
        char buf[4096];
        boost::system::error_code ec;
        for (;;) {
            const auto n = i->socket.read_some(asio::buffer(buf), ec);
            if (ec) {
                std::lock_guard lock(i->mu);
                i->ended = true;
                i->cv.notify_all();
                return;
            }
            i->pending.append(buf, n);
            i->parse_lines();
        }
    });
}

sse_client::~sse_client() {
    boost::system::error_code ignored;
    impl_->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    if (impl_->reader.joinable()) impl_->reader.join();
}

std::vector<boost::json::value> sse_client::events() const {
    std::lock_guard lock(impl_->mu);
    return impl_->events;
}

std::vector<std::string> sse_client::notices() const {
    std::lock_guard lock(impl_->mu);
    return impl_->notices;
}

bool sse_client::wait_ended(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mu);
    return impl_->cv.wait_for(lock, timeout, [&] { return impl_->ended; });
}

bool sse_client::wait_for(const std::function<bool(const std::vector<boost::json::value>&)>& done,
                          std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mu);
    return impl_->cv.wait_for(lock, timeout, [&] { return done(impl_->events); });
}

}  // namespace jobsd::test

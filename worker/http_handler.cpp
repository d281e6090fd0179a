// Each job is one HTTP exchange run on the calling pool thread: the connection's own io_context
// runs the Beast coroutine to completion, so a stop request only has to post a close to it.
#include "worker/http_handler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <stdexcept>

namespace jobsd::worker {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using request = http::request<http::string_body>;
using clock = std::chrono::steady_clock;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

struct http_handler::connection {
    asio::io_context ioc{1};
    tcp::resolver resolver{ioc};
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;
    bool open = false;     // connected; the connection is dropped after any failed exchange
    bool stopped = false;  // the job's stop came; set and read on the thread running ioc
};

namespace {

// What one exchange gave: an error before a full answer, or the answer.
struct answer {
    beast::error_code ec;
    unsigned status = 0;
    std::string reason;
    std::string body;
    bool keep_alive = false;
};

// The body's "error", "message" or "detail" string when it is a JSON object holding one, else the
// body itself; on one line, at most 200 bytes.
std::string short_reason(std::string_view body) {
    std::string text(body);
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (!ec && v.is_object())
        for (const char* key : {"error", "message", "detail"})
            if (const json::value* s = v.as_object().if_contains(key); s && s->is_string()) {
                text = std::string(s->as_string());
                break;
            }
    for (char& ch : text)
        if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
    text.erase(0, text.find_first_not_of(' '));
    text.erase(text.find_last_not_of(' ') + 1);
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return text;
}

asio::awaitable<answer> exchange(http_handler::connection& c, const request& req, clock::time_point deadline,
                                 const std::string& host, const std::string& port, std::size_t limit) {
    answer a;
    // A stop that came before an operation started has no operation to abort: checked before each.
    const auto stopped = [&] {
        if (c.stopped) a.ec = asio::error::operation_aborted;
        return c.stopped;
    };
    if (stopped()) co_return a;
    if (!c.open) {
        // Resolving is bounded by the system resolver's own timeout, not by the deadline.
        auto [ec, endpoints] = co_await c.resolver.async_resolve(host, port, use_nothrow);
        if (ec) {
            a.ec = ec;
            co_return a;
        }
        if (stopped()) co_return a;
        c.stream.expires_at(deadline);
        auto [ec2, endpoint] = co_await c.stream.async_connect(endpoints, use_nothrow);
        if (ec2) {
            a.ec = ec2;
            co_return a;
        }
        c.open = true;
    }
    if (stopped()) co_return a;
    c.stream.expires_at(deadline);
    auto [ec, sent] = co_await http::async_write(c.stream, req, use_nothrow);
    if (ec) {
        a.ec = ec;
        co_return a;
    }
    if (stopped()) co_return a;
    http::response_parser<http::string_body> parser;
    parser.body_limit(limit);
    c.stream.expires_at(deadline);
    auto [ec2, got] = co_await http::async_read(c.stream, c.buffer, parser, use_nothrow);
    if (ec2) {
        a.ec = ec2;
        co_return a;
    }
    auto res = parser.release();
    a.status = res.result_int();
    a.reason = std::string(res.reason());
    a.keep_alive = res.keep_alive();
    a.body = std::move(res.body());
    co_return a;
}

// A reused keep-alive connection the server closed while it was idle fails like this before any
// byte of an answer; the request is then sent again on a fresh connection.
bool stale_connection(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

job_outcome outcome_of_error(const beast::error_code& ec, const http_options& options) {
    if (ec == beast::error::timeout)
        return job_outcome::failure(
            "model server timed out after " + std::to_string(options.timeout.count()) + " ms", true);
    if (ec == http::error::body_limit)
        return job_outcome::failure("model server answer larger than " +
                                    std::to_string(options.max_response_bytes) + " bytes");
    return job_outcome::failure("model server unreachable: " + ec.message(), true);
}

}  // namespace

job_outcome outcome_of_answer(unsigned status, std::string_view reason, std::string_view body) {
    const std::string head =
        "model server answered " + std::to_string(status) + (reason.empty() ? "" : " " + std::string(reason));
    const std::string why = short_reason(body);
    const std::string text = why.empty() ? head : head + ": " + why;
    if (status >= 200 && status < 300) {
        boost::system::error_code ec;
        json::value v = json::parse(body, ec);
        if (!ec && v.is_object()) return job_outcome::success(std::move(v.as_object()));
        return job_outcome::failure("model server answered " + std::to_string(status) +
                                    " with a body that is not a JSON object: " + why);
    }
    return job_outcome::failure(text, status == 429 || status >= 500);
}

http_handler::http_handler(http_options options) : options_(std::move(options)) {
    auto url = boost::urls::parse_absolute_uri(options_.url);
    if (!url || url->scheme() != "http" || url->host().empty())
        throw std::invalid_argument("--model-url expects an http:// URL with a host, got '" + options_.url +
                                    "'");
    host_ = std::string(url->host());
    if (url->host_type() == boost::urls::host_type::ipv6) host_ = host_.substr(1, host_.size() - 2);
    port_ = url->has_port() ? std::string(url->port()) : "80";
    target_ = std::string(url->encoded_path());
    if (target_.empty()) target_ = "/";
    if (url->has_query()) target_ += "?" + std::string(url->encoded_query());
}

http_handler::~http_handler() = default;

std::unique_ptr<http_handler::connection> http_handler::take_idle() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return nullptr;
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
}

void http_handler::keep_idle(std::unique_ptr<connection> c) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(c));
}

job_outcome http_handler::run(const job_input& job, progress_reporter&, std::stop_token stop) {
    request req{http::verb::post, target_, 11};
    req.set(http::field::host, host_ + (port_ == "80" ? "" : ":" + port_));
    req.set(http::field::user_agent, "jobs-worker");
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json");
    req.set("X-Job-Id", job.uuid);
    req.set("X-Job-Type", job.job_type);
    req.set("X-Job-Attempt", std::to_string(job.attempt));
    req.body() = json::serialize(job.input);
    req.prepare_payload();
    req.keep_alive(true);

    const auto deadline = clock::now() + options_.timeout;
    for (int round = 0;; ++round) {
        auto c = take_idle();
        const bool reused = c != nullptr;
        if (!c) c = std::make_unique<connection>();
        answer a;
        std::exception_ptr failed;
        {
            std::stop_callback on_stop(stop, [&c] {
                asio::post(c->ioc, [conn = c.get()] {
                    conn->stopped = true;
                    conn->resolver.cancel();
                    conn->stream.close();
                });
            });
            c->ioc.restart();
            asio::co_spawn(c->ioc, exchange(*c, req, deadline, host_, port_, options_.max_response_bytes),
                           [&](std::exception_ptr e, answer r) {
                               failed = e;
                               a = std::move(r);
                           });
            c->ioc.run();
        }
        if (stop.stop_requested()) return job_outcome::failure("cancelled");
        if (failed) std::rethrow_exception(failed);
        if (a.ec && reused && round == 0 && stale_connection(a.ec)) continue;
        if (a.ec) return outcome_of_error(a.ec, options_);
        if (a.keep_alive) keep_idle(std::move(c));
        return outcome_of_answer(a.status, a.reason, a.body);
    }
}

}  // namespace jobsd::worker

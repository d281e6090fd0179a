// Read the header, admit or refuse it, read the body, handle, write; repeat while keep-alive.
// A refusal sent before the body was read closes the connection, since the unread body would
// otherwise be taken for the next request. One loop, a template over the stream: plain TCP runs
// it on beast::tcp_stream directly (no indirection per read), TLS on Beast's SSL stream.
#include "server/session.hpp"

#include "server/answer_writing.hpp"
#include "server/header_lookup.hpp"
#include "server/http_framing.hpp"
#include "server/idle_deadline.hpp"
#include "server/message_head.hpp"
#include "server/tls_context.hpp"
#include "server/use_nothrow.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <tuple>
#include <type_traits>

#include "model/uuid.hpp"

namespace jobsd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

// The client's X-Request-Id when it is a sane token (up to 128 visible ASCII characters),
// otherwise a fresh one; echoed in the answer and named in every log line about the request.
std::string request_id_of(std::string_view given) {
    if (!given.empty() && given.size() <= 128 &&
        std::all_of(given.begin(), given.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
        return std::string(given);
    return model::new_uuid();
}

// The answer to a request the parser could not accept, or nullopt when the connection is
// simply gone (closed, reset, timed out) and nothing can be sent.
std::optional<response> answer_read_error(const beast::error_code& ec) {
    // stream_truncated: a TLS peer closed its TCP connection without close_notify.
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == asio::ssl::error::stream_truncated)
        return std::nullopt;
    // The body's whole-time bound (read_body): the socket is still open, so the client learns why.
    if (ec == asio::error::timed_out)
        return message_response(http::status::request_timeout, "Request body not received in time");
    if (ec == http::error::body_limit)
        return message_response(http::status::payload_too_large, "Request body too large");
    if (ec == http::error::header_limit)
        return message_response(http::status::request_header_fields_too_large, "Request header too large");
    return message_response(http::status::bad_request, "Malformed HTTP request");
}

// `Expect: 100-continue` (RFC 9110 §10.1.1) on an HTTP/1.1 request none of whose body has arrived
// (`buffered`: the bytes read past its header): the client waits for a 100 before it sends the
// body. HTTP/1.0 requests are not asked. A create's body nearly always came with its header, so
// the header is looked up only when nothing did.
bool expects_continue(const http::request_parser<http::string_body>& parser, std::size_t buffered) {
    if (buffered > 0 || parser.is_done() || parser.get().version() < 11) return false;
    return beast::iequals(header_value(parser.get().base(), http::field::expect), "100-continue");
}

// The 503 for a connection over the limit, on a stream ready for HTTP.
template <class Stream>
asio::awaitable<void> answer_too_many(Stream& stream, const server_options& options) {
    auto res = message_response(http::status::service_unavailable, "Too many connections, retry later");
    res.set(http::field::retry_after, "1");
    res.keep_alive(false);
    co_await write_response(stream, res, options);
}

// Counts a request as in flight from its first header byte to its answer written (shutdown
// waits for those), or until a stream takes the connection over.
class in_flight_guard {
  public:
    explicit in_flight_guard(metrics& m) : m_(m) {}
    ~in_flight_guard() { finish(); }
    in_flight_guard(const in_flight_guard&) = delete;
    in_flight_guard& operator=(const in_flight_guard&) = delete;
    void start() {
        if (!on_) m_.request_started();
        on_ = true;
    }
    void finish() {
        if (on_) m_.request_finished();
        on_ = false;
    }

  private:
    metrics& m_;
    bool on_ = false;
};

// The connection as a streaming route sees it: each write as an answer's, every stall within the
// read timeout and the whole of it within the body timeout (a burst after a batch may be large).
// A client that vanishes without a word is found by the kernel within a read timeout of unacked
// data (TCP_USER_TIMEOUT), not after its retransmissions' quarter of an hour.
template <class Stream>
class stream_writer final : public event_stream {
  public:
    stream_writer(Stream& stream, in_flight_guard& in_flight, const server_options& options)
        : stream_(stream), in_flight_(in_flight), options_(options) {}
    void begin() override {
        in_flight_.finish();
        begun_ = true;
        const auto ms = static_cast<unsigned>(std::max<std::int64_t>(1'000, options_.read_timeout.count()));
        ::setsockopt(beast::get_lowest_layer(stream_).socket().native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT,
                     &ms, sizeof ms);  // best effort: without it the ping still finds the client, later
    }
    asio::awaitable<beast::error_code> write(asio::const_buffer data) override {
        auto [ec, n] = co_await write_with_progress(stream_, data, options_);
        co_return ec;
    }
    void on_close(std::function<void()> gone) override {
        beast::get_lowest_layer(stream_).socket().async_wait(
            asio::socket_base::wait_read, [gone = std::move(gone)](beast::error_code) { gone(); });
    }
    bool begun() const noexcept { return begun_; }

  private:
    Stream& stream_;
    in_flight_guard& in_flight_;
    const server_options& options_;
    bool begun_ = false;
};

// One request's answer, as the loop writes it. No response: the connection is over (the client
// went away, or a stream ran until it did).
struct reply {
    std::optional<response> res;
    bool close = false;
    std::string request_id;                    // echoed as X-Request-Id when set
    std::size_t metrics_slot = unrouted_slot;  // the route's latency histogram
};

reply closing(response res, std::string request_id = {}) {
    return {std::move(res), true, std::move(request_id)};
}

// Requests on one connection until it ends; the caller opens and closes the stream. Generic over
// plain TCP and TLS: every timeout is set on the TCP layer under either. One coroutine frame per
// request (serve_one); the decisions in between are plain functions.
template <class Stream>
class request_loop {
  public:
    request_loop(Stream& stream, const api& handlers, const server_options& options)
        : stream_(stream),
          tcp_(beast::get_lowest_layer(stream)),
          idle_(stream.get_executor()),
          handlers_(handlers),
          options_(options) {}

    // Waiting for the first byte of the next request is idle time; the loop ends when the
    // connection closed, reset or stayed idle too long (nothing to answer), or after an answer
    // that closes it: true then, when the client may still be sending (linger_before_close).
    asio::awaitable<bool> run() {
        for (std::size_t served = 1;; ++served) {
            if (buffer_.size() == 0) {
                if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                    // Plain TCP: wait for readability with no buffer, so an idle connection holds
                    // none (10 000 idle connections cost 46 MB instead of 87 MB).
                    buffer_.shrink_to_fit();
                    idle_.arm(tcp_.socket(), options_.idle_timeout);
                    auto [wec] =
                        co_await tcp_.socket().async_wait(asio::ip::tcp::socket::wait_read, use_nothrow);
                    idle_.disarm();
                    if (wec) break;
                    take_what_is_there();
                } else {
                    // TLS may hold decrypted bytes that the socket no longer shows: read through it.
                    tcp_.expires_after(options_.idle_timeout);
                    auto [wec, got] = co_await stream_.async_read_some(buffer_.prepare(4096), use_nothrow);
                    if (wec) break;
                    buffer_.commit(got);
                }
            }
            if (!co_await serve_one(served)) break;
        }
        co_await idle_.settle();
        co_return linger_;
    }

  private:
    using parser_type = http::request_parser<http::string_body>;

    // The socket is readable (plain TCP, made non-blocking by run_session): what it holds, nearly
    // always the whole request, is read here without waiting, so Beast parses it from the buffer
    // with no read operation and no timer of its own (its first read would also take only 512
    // bytes of a fresh buffer). Nothing there, or an error: Beast's own read meets it as before.
    void take_what_is_there() {
        if (!tcp_.socket().non_blocking()) return;
        beast::error_code ec;
        const std::size_t got = tcp_.socket().read_some(buffer_.prepare(4096), ec);
        if (!ec) buffer_.commit(got);
    }

    // From the first byte the whole header must arrive within header_timeout, however slowly it
    // trickles. False when the connection is over.
    asio::awaitable<bool> serve_one(std::size_t served) {
        parser_type parser;
        parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
        // A route may take larger bodies than server.body_limit (server/route.hpp): the header is
        // read under the largest limit, then the request's own route sets it.
        parser.body_limit(std::max(options_.body_limit, options_.batch_body_limit));
        in_flight_guard in_flight{handlers_.counters()};
        const auto started = std::chrono::steady_clock::now();
        tcp_.expires_after(options_.header_timeout);
        auto [ec, n] = co_await http::async_read_header(stream_, buffer_, parser, use_nothrow);
        in_flight.start();
        const bool head = !ec && parser.get().method() == http::verb::head;
        reply r;
        admission a;
        if (ec) {
            auto res = answer_read_error(ec);
            if (!res) co_return false;
            r = closing(std::move(*res));
        } else if (auto too_large = check_body_limit(parser); screen(parser, a, r)) {
            // Refused from the header alone, before the body's size is judged (API.md: a missing
            // or unknown key is a 401 before any other check). The body is read and dropped when
            // it is within the limit, so the connection stays usable (a client with a bad key
            // keeps its connection, which keeps refusals cheap); one past it is not read, and the
            // connection closes, as after a 413 or an unreadable body.
            // A client waiting for a 100 has not sent its body: it is answered at once, and the
            // connection closes, since whether that body follows is the client's choice.
            if (too_large || expects_continue(parser, buffer_.size())) {
                r.close = true;
            } else if (!r.close && !parser.is_done()) {
                auto [bec, bn] = co_await read_body(parser);
                r.close = bec.failed();
            }
        } else if (too_large) {
            r = closing(std::move(*too_large), std::move(a.who.request_id));
        } else {
            if (expects_continue(parser, buffer_.size())) {
                // Admitted: the client may send its body now.
                static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                tcp_.expires_after(options_.read_timeout);
                auto [cec, cn] = co_await asio::async_write(stream_, asio::buffer(go_on), use_nothrow);
                if (cec) co_return false;
            }
            std::tie(ec, n) = co_await read_body(parser);
            std::optional<response> res;
            if (ec) {
                res = answer_read_error(ec);
            } else {
                // Not a conditional expression around the co_await: GCC 12 destroys its
                // temporaries wrongly there.
                stream_writer<Stream> writer(stream_, in_flight, options_);
                res = co_await handlers_.respond(parser.get(), a, writer);
                if (writer.begun()) co_return false;  // a stream ran until the client went away
            }
            if (!res) co_return false;
            r = reply{std::move(res), ec.failed() || !parser.get().keep_alive(), std::move(a.who.request_id),
                      metrics_slot(a.match)};
        }
        if (served >= options_.max_requests_per_connection) r.close = true;
        r.res->version(ec ? 11 : parser.get().version());
        if (!r.request_id.empty()) r.res->set("X-Request-Id", r.request_id);
        r.res->keep_alive(!r.close);
        if (head) drop_body_for_head(*r.res);
        metrics& counters = handlers_.counters();
        counters.count_response(r.res->result_int());
        auto [wec, written] = co_await write_response(stream_, *r.res, options_);
        counters.observe_request(r.metrics_slot, std::chrono::steady_clock::now() - started);
        linger_ = r.close && !wec;
        co_return !wec && !r.close;
    }

    // A request's body, once its header was admitted: each read must bring bytes within
    // read_timeout (a stalled client is cut off; Beast's timeout closes the socket), and the whole
    // body must be in within body_timeout, past which the answer is 408 (asio::error::timed_out),
    // so a slow but steady client of a large body is served and a trickling one is not kept.
    asio::awaitable<std::tuple<beast::error_code, std::size_t>> read_body(parser_type& parser) {
        const auto until = std::chrono::steady_clock::now() + options_.whole_message_timeout();
        std::size_t total = 0;
        while (!parser.is_done()) {
            tcp_.expires_after(options_.read_timeout);
            auto [ec, n] = co_await http::async_read_some(stream_, buffer_, parser, use_nothrow);
            total += n;
            if (ec) co_return std::tuple{ec, total};
            if (!parser.is_done() && std::chrono::steady_clock::now() >= until)
                co_return std::tuple{beast::error_code(asio::error::timed_out), total};
        }
        co_return std::tuple{beast::error_code{}, total};
    }

    // 413 for a declared body past its route's limit, as the parser would have answered; otherwise
    // the parser takes that limit for the body it reads (a chunked body included).
    std::optional<response> check_body_limit(parser_type& parser) {
        const auto declared = parser.content_length();
        if (!parser.chunked() && (!declared || *declared <= options_.body_limit)) {
            parser.body_limit(options_.body_limit);
            return std::nullopt;
        }
        const std::size_t limit = handlers_.body_limit(parser.get().base());
        if (declared && *declared > limit) return answer_read_error(http::error::body_limit);
        parser.body_limit(limit);
        return std::nullopt;
    }

    // The checks of a request whose header was read: shutdown, framing, then admission. True with
    // `r` set when the request is refused; false with `a` set when it is admitted.
    bool screen(parser_type& parser, admission& a, reply& r) const {
        const auto& header = parser.get().base();
        std::string request_id = request_id_of(header_value(header, "X-Request-Id"));
        if (handlers_.draining()) {
            // Shutting down: a clear answer the client can retry elsewhere, never a reset in the
            // middle of a commit.
            auto res =
                message_response(http::status::service_unavailable, "Server is shutting down, retry later");
            res.set(http::field::retry_after, "1");
            r = closing(std::move(res), std::move(request_id));
            return true;
        }
        if (auto problem = framing_problem(header); !problem.empty()) {
            // Never passed on, never guessed at: refuse and close, since where this request ends
            // is exactly what is in doubt.
            r = closing(
                message_response(http::status::bad_request, "Bad request framing: " + std::string(problem)),
                std::move(request_id));
            return true;
        }
        a = handlers_.admit(header);
        a.who.request_id = std::move(request_id);
        if (!a.refusal) return false;
        const bool too_large = a.refusal->result() == http::status::payload_too_large && !parser.is_done();
        r = reply{std::move(a.refusal), too_large || !parser.get().keep_alive(), std::move(a.who.request_id),
                  metrics_slot(a.match)};
        return true;
    }

    Stream& stream_;
    beast::tcp_stream& tcp_;
    beast::flat_buffer buffer_;
    idle_deadline idle_;  // plain TCP's wait for the next request
    const api& handlers_;
    const server_options& options_;
    bool linger_ = false;  // the last answer closed the connection
};

// True when the connection ended with an answer that closed it.
template <class Stream>
asio::awaitable<bool> serve_requests(Stream& stream, const api& handlers, const server_options& options) {
    request_loop<Stream> loop(stream, handlers, options);
    co_return co_await loop.run();
}

// The TLS handshake under its own deadline: a client that connects and says nothing is cut off.
asio::awaitable<bool> tls_handshake(tls_stream& stream, const tls_options& tls) {
    beast::get_lowest_layer(stream).expires_after(tls.handshake_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
    if (ec) spdlog::debug("tls handshake failed: {}", ec.message());  // scanners, plain HTTP: routine
    co_return !ec;
}

// close_notify after a completed handshake, then the TCP close. Bounded: a peer that never
// answers its close_notify holds the connection no longer than the handshake timeout. Errors are
// ignored: the connection is over either way.
asio::awaitable<void> tls_close(tls_stream& stream, bool handshake_done, const tls_options& tls) {
    beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
    if (handshake_done && tcp.socket().is_open()) {
        tcp.expires_after(tls.handshake_timeout);
        co_await stream.async_shutdown(use_nothrow);
    }
    tcp.close();
}

}  // namespace

asio::awaitable<void> refuse_connection(asio::ip::tcp::socket socket, const server_options& options) {
    beast::tcp_stream stream(std::move(socket));
    co_await answer_too_many(stream, options);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);  // best effort
}

asio::awaitable<void> refuse_tls_connection(asio::ip::tcp::socket socket, asio::ssl::context& context,
                                            const server_options& options, const tls_options& tls) {
    tls_stream stream(std::move(socket), context);
    const bool ready = co_await tls_handshake(stream, tls);
    if (ready) co_await answer_too_many(stream, options);
    co_await tls_close(stream, ready, tls);
}

asio::awaitable<void> run_session(asio::ip::tcp::socket socket, const api& handlers,
                                  const server_options& options) {
    beast::tcp_stream stream(std::move(socket));
    beast::error_code ignored;
    stream.socket().non_blocking(true, ignored);  // for write_at_once; async operations are alike
    metrics& counters = handlers.counters();
    counters.connection_opened();
    const bool closed_by_answer = co_await serve_requests(stream, handlers, options);
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);  // best effort; peer may be gone
    if (closed_by_answer) co_await linger_before_close(stream, options.linger_timeout);
    counters.connection_closed();
}

asio::awaitable<void> run_tls_session(asio::ip::tcp::socket socket, asio::ssl::context& context,
                                      const api& handlers, const server_options& options,
                                      const tls_options& tls) {
    tls_stream stream(std::move(socket), context);
    metrics& counters = handlers.counters();
    // Counted from accept, so connections still in their handshake count against the maximum.
    counters.connection_opened();
    const bool ready = co_await tls_handshake(stream, tls);
    if (ready) co_await serve_requests(stream, handlers, options);
    co_await tls_close(stream, ready, tls);
    counters.connection_closed();
}

}  // namespace jobsd::server

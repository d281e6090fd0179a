// Read the header, admit or refuse it, read the body, handle, write; repeat while keep-alive.
// A refusal sent before the body was read closes the connection, since the unread body would
// otherwise be taken for the next request. One loop, a template over the stream: plain TCP runs
// it on beast::tcp_stream directly (no indirection per read), TLS on Beast's SSL stream.
#include "server/session.hpp"

#include "server/http_framing.hpp"
#include "server/tls_context.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <optional>
#include <type_traits>

#include "model/uuid.hpp"

namespace jobsd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

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
    if (ec == http::error::body_limit)
        return message_response(http::status::payload_too_large, "Request body too large");
    if (ec == http::error::header_limit)
        return message_response(http::status::request_header_fields_too_large, "Request header too large");
    return message_response(http::status::bad_request, "Malformed HTTP request");
}

// The 503 for a connection over the limit, on a stream ready for HTTP.
template <class Stream>
asio::awaitable<void> answer_too_many(Stream& stream, const server_options& options) {
    auto res = message_response(http::status::service_unavailable, "Too many connections, retry later");
    res.set(http::field::retry_after, "1");
    res.keep_alive(false);
    beast::get_lowest_layer(stream).expires_after(options.read_timeout);
    co_await http::async_write(stream, res, use_nothrow);
}

// Requests on one connection until it ends; the caller opens and closes the stream. Generic
// over plain TCP and TLS: every timeout is set on the TCP layer under either.
template <class Stream>
asio::awaitable<void> serve_requests(Stream& stream, const api& handlers, const server_options& options) {
    beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    asio::steady_timer idle_timer(stream.get_executor());
    metrics& counters = handlers.counters();

    for (std::size_t served = 1;; ++served) {
        http::request_parser<http::string_body> parser;
        struct in_flight_guard {  // counts from the first header byte to the answer written
            metrics& m;
            bool on = false;
            void start() {
                if (!on) {
                    m.request_started();
                    on = true;
                }
            }
            void finish() {
                if (on) {
                    m.request_finished();
                    on = false;
                }
            }
            ~in_flight_guard() { finish(); }
        } in_flight{counters};
        parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
        parser.body_limit(options.body_limit);

        // Waiting for the first byte of the next request is idle time; from then on the whole
        // header must arrive within header_timeout, however slowly it trickles.
        if (buffer.size() == 0) {
            if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                // Plain TCP: wait for readability with no buffer, so an idle connection holds none
                // (10 000 idle connections cost 46 MB instead of 87 MB).
                buffer.shrink_to_fit();
                idle_timer.expires_after(options.idle_timeout);
                idle_timer.async_wait([&tcp](beast::error_code tec) {
                    if (!tec) tcp.socket().cancel();
                });
                auto [wec] = co_await tcp.socket().async_wait(asio::ip::tcp::socket::wait_read, use_nothrow);
                idle_timer.cancel();
                if (wec) break;  // closed, reset or idle too long: nothing to answer
            } else {
                // TLS may hold decrypted bytes that the socket no longer shows: read through it.
                tcp.expires_after(options.idle_timeout);
                auto [wec, got] = co_await stream.async_read_some(buffer.prepare(4096), use_nothrow);
                if (wec) break;  // closed, reset or idle too long: nothing to answer
                buffer.commit(got);
            }
        }
        const auto started = std::chrono::steady_clock::now();
        tcp.expires_after(options.header_timeout);
        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
        in_flight.start();
        std::optional<response> res;
        bool close = false;
        api::admitted admitted;
        if (!ec) admitted.request_id = request_id_of(parser.get()["X-Request-Id"]);
        if (ec) {
            res = answer_read_error(ec);
            if (!res) break;
            close = true;
        } else if (handlers.draining()) {
            // Shutting down: a clear answer the client can retry elsewhere, never a reset
            // in the middle of a commit.
            res = message_response(http::status::service_unavailable, "Server is shutting down, retry later");
            res->set(http::field::retry_after, "1");
            close = true;
        } else if (auto problem = framing_problem(parser.get().base()); !problem.empty()) {
            // Never passed on, never guessed at: refuse and close, since where this request ends
            // is exactly what is in doubt.
            res = message_response(http::status::bad_request, "Bad request framing: " + std::string(problem));
            close = true;
        } else {
            res = handlers.check_header(parser.get().base(), admitted);
            if (res) {
                close = !parser.get().keep_alive();
                // A refused request's body is read and dropped when it is within the limit, so the
                // connection stays usable (a client with a bad key keeps its connection, which keeps
                // refusals cheap); a 413 or an unreadable body closes it.
                if (!close && !parser.is_done()) {
                    if (res->result() == http::status::payload_too_large) {
                        close = true;
                    } else {
                        tcp.expires_after(options.read_timeout);
                        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_nothrow);
                        close = bec.failed();
                    }
                }
            } else {
                tcp.expires_after(options.read_timeout);
                std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_nothrow);
                if (ec) {
                    res = answer_read_error(ec);
                    if (!res) break;
                    close = true;
                } else if (admitted.match.which == route::job_events) {
                    std::string session_id;
                    res = handlers.check_events_request(parser.get(), session_id);
                    if (!res) {
                        // A stream is not a request in flight: shutdown does not wait for it.
                        in_flight.finish();
                        co_await handlers.stream_events(stream, admitted.account_id, session_id);
                        break;
                    }
                    close = !parser.get().keep_alive();
                } else {
                    close = !parser.get().keep_alive();
                    try {
                        res = co_await handlers.handle(parser.get(), admitted);
                    } catch (const std::exception& e) {
                        // The path only: a query string may carry what a client should not have
                        // put there (a key, personal data), and logs outlive requests.
                        const auto target = parser.get().target();
                        spdlog::error("request {}: {} {}: {}", admitted.request_id,
                                      std::string(parser.get().method_string()),
                                      std::string(target.substr(0, target.find('?'))), e.what());
                        res = message_response(http::status::internal_server_error, "Internal server error");
                    }
                }
            }
        }
        if (served >= options.max_requests_per_connection) close = true;
        if (!admitted.request_id.empty()) res->set("X-Request-Id", admitted.request_id);
        res->version(ec ? 11 : parser.get().version());
        res->keep_alive(!close);
        counters.count_response(res->result_int());
        tcp.expires_after(options.read_timeout);
        auto [wec, written] = co_await http::async_write(stream, *res, use_nothrow);
        counters.observe_request(admitted.match.which, std::chrono::steady_clock::now() - started);
        if (wec || close) break;
    }
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
    metrics& counters = handlers.counters();
    counters.connection_opened();
    co_await serve_requests(stream, handlers, options);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);  // best effort; peer may be gone
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

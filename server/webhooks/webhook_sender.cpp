// Resolve (bounded by the connect timeout), keep only the addresses the policy allows, connect
// to those, handshake when https, then write and read under the answer deadline. A kept-alive
// connection the receiver closed meanwhile fails before any answer arrives; the request then goes
// once more on a fresh connection (same webhook-id, so a receiver that did get it can dedupe).
#include "server/webhooks/webhook_sender.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <variant>

#include "server/message_head.hpp"
#include "server/use_nothrow.hpp"
#include "server/webhooks/retry_policy.hpp"

namespace jobsd::server::webhooks {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

struct webhook_sender::target {
    bool tls = false;
    std::string host;         // for resolving, SNI and certificate checks (no brackets)
    std::string host_header;  // as the Host header writes it; in error texts too (ASCII, as sent)
    std::string port;
    std::string origin;  // scheme://host:port, the pool's key
    std::string path;    // the request target
};

struct webhook_sender::connection {
    explicit connection(beast::tcp_stream s) : stream(std::move(s)) {}
    explicit connection(tls_stream s) : stream(std::move(s)) {}
    beast::tcp_stream& tcp() {
        return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); }, stream);
    }
    std::variant<beast::tcp_stream, tls_stream> stream;
    beast::flat_buffer buffer;
    clock_type::time_point idle_since{};
};

namespace {

std::optional<webhook_sender::target> parse_target(std::string_view url);

// How an exchange on a connection ended.
enum class exchange_end {
    keep,   // answered; the connection may serve the next request
    close,  // answered (or failed) and the connection is done
    stale,  // nothing came back from a connection the peer had closed: worth one more try
};

bool peer_closed(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == ssl::error::stream_truncated;
}

std::string describe(const beast::error_code& ec, std::chrono::milliseconds timeout) {
    if (ec == beast::error::timeout) return "no answer within " + std::to_string(timeout.count()) + " ms";
    return ec.message();
}

template <class Stream>
asio::awaitable<exchange_end> exchange(Stream& s, webhook_sender::connection& c,
                                       const http::request<http::string_body>& req, const webhook_options& o,
                                       attempt_result& r) {
    c.tcp().expires_after(o.answer_timeout);  // the whole answer: request written, answer read
    auto [wec, written] = co_await async_write_gathered(s, req);  // as the server answers
    if (wec) {
        r.error = "sending the request: " + describe(wec, o.answer_timeout);
        co_return peer_closed(wec) ? exchange_end::stale : exchange_end::close;
    }
    // Interim answers (1xx: 102 Processing, 103 Early Hints) come before the final one, which
    // alone counts; a few at most, the rest of the deadline for all of them.
    constexpr int max_interim = 8;
    std::optional<http::response_parser<http::string_body>> parser;
    beast::error_code cut;  // the final answer's body was cut: its status counts, the connection goes
    for (int interim = 0;; ++interim) {
        parser.emplace();
        parser->header_limit(16 * 1024);
        parser->body_limit(o.response_max);
        auto [rec, read] = co_await http::async_read(s, c.buffer, *parser, use_nothrow);
        if (rec && !parser->is_header_done()) {
            r.error = "reading the answer: " + describe(rec, o.answer_timeout);
            co_return peer_closed(rec) && read == 0 && interim == 0 ? exchange_end::stale
                                                                    : exchange_end::close;
        }
        const auto code = parser->get().result_int();
        if (rec || code < 100 || code >= 200) {
            r.status = static_cast<int>(code);
            cut = rec;
            break;
        }
        if (interim == max_interim) {
            r.error = "more than " + std::to_string(max_interim) + " interim (1xx) answers";
            co_return exchange_end::close;
        }
    }
    const auto& res = parser->get();
    if (auto it = res.find(http::field::retry_after); it != res.end())
        r.retry_after = parse_retry_after(it->value());
    co_return !cut && res.keep_alive() ? exchange_end::keep : exchange_end::close;
}

std::optional<webhook_sender::target> parse_target(std::string_view url) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) return std::nullopt;
    webhook_sender::target t;
    std::string scheme = u->scheme();
    for (auto& ch : scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (scheme != "http" && scheme != "https") return std::nullopt;
    t.tls = scheme == "https";
    t.host = u->host_address();
    t.port = u->has_port() ? std::string(u->port()) : (t.tls ? "443" : "80");
    t.host_header = std::string(u->encoded_host_and_port());
    t.origin = scheme + "://" + t.host_header;
    t.path = std::string(u->encoded_path());
    if (t.path.empty()) t.path = "/";
    if (u->has_query()) t.path += "?" + std::string(u->encoded_query());
    return t;
}

http::request<http::string_body> make_request(const webhook_sender::target& t, const outgoing& out) {
    http::request<http::string_body> req{http::verb::post, t.path, 11};
    req.set(http::field::host, t.host_header);
    req.set(http::field::user_agent, "jobsd-webhooks/1");
    req.set(http::field::content_type, "application/json");
    req.set("webhook-id", out.id);
    req.set("webhook-timestamp", out.timestamp);
    req.set("webhook-signature", out.signature);
    if (!out.traceparent.empty()) req.set("traceparent", out.traceparent);
    req.keep_alive(true);
    req.body() = out.body;
    req.prepare_payload();
    return req;
}

// The addresses of `t.host` the policy allows; `error` says why there are none.
asio::awaitable<std::vector<tcp::endpoint>> resolve_allowed(const webhook_sender::target& t,
                                                            host_resolver& resolver,
                                                            const address_policy& policy,
                                                            std::chrono::milliseconds timeout,
                                                            std::string& error) {
    auto [ec, results] = co_await resolver.resolve(t.host, t.port, timeout);
    std::vector<tcp::endpoint> allowed;
    if (ec) {
        error =
            "resolving " + t.host_header + ": " + (ec == asio::error::timed_out ? "timed out" : ec.message());
        co_return allowed;
    }
    std::string refusal;
    for (const auto& endpoint : results) {
        auto why = policy.refusal(t.host, endpoint.address());
        if (why.empty())
            allowed.push_back(endpoint);
        else if (refusal.empty())
            refusal = std::move(why);
    }
    if (allowed.empty())
        error = "refused: " + (refusal.empty() ? t.host_header + " has no address" : refusal);
    co_return allowed;
}

}  // namespace

webhook_sender::webhook_sender(asio::io_context& ioc, const webhook_options& options,
                               const address_policy& policy, ssl::context& tls, host_resolver& resolver)
    : ioc_(ioc), options_(options), policy_(policy), tls_(tls), resolver_(resolver) {}

webhook_sender::~webhook_sender() = default;

asio::awaitable<std::unique_ptr<webhook_sender::connection>> webhook_sender::open(const target& t,
                                                                                  std::string& error) {
    auto allowed = co_await resolve_allowed(t, resolver_, policy_, options_.connect_timeout, error);
    if (allowed.empty()) co_return nullptr;
    beast::tcp_stream plain(ioc_);
    plain.expires_after(options_.connect_timeout);
    auto [cec, ep] = co_await plain.async_connect(allowed, use_nothrow);
    if (cec) {
        error = "connecting to " + t.host_header + ": " +
                (cec == beast::error::timeout ? "timed out" : cec.message());
        co_return nullptr;
    }
    plain.socket().set_option(tcp::no_delay(true));
    if (!t.tls) co_return std::make_unique<connection>(std::move(plain));
    tls_stream s(std::move(plain), tls_);
    boost::system::error_code not_an_address;
    asio::ip::make_address(t.host, not_an_address);
    if (not_an_address) SSL_set_tlsext_host_name(s.native_handle(), t.host.c_str());  // SNI names hosts only
    s.set_verify_callback(ssl::host_name_verification(t.host));
    beast::get_lowest_layer(s).expires_after(options_.tls_timeout);
    auto [hec] = co_await s.async_handshake(ssl::stream_base::client, use_nothrow);
    if (hec) {
        error = "TLS handshake with " + t.host_header + ": " +
                (hec == beast::error::timeout ? "timed out" : hec.message());
        co_return nullptr;
    }
    co_return std::make_unique<connection>(std::move(s));
}

asio::awaitable<attempt_result> webhook_sender::send(const outgoing& out) {
    const auto started = clock_type::now();
    attempt_result r;
    const auto t = parse_target(out.url);
    if (!t) {
        r.error = "not an http or https URL";
        co_return r;
    }
    const auto req = make_request(*t, out);
    for (int tries = 0; tries < 2; ++tries) {
        r = {};
        // A kept connection the receiver had closed: once more on a fresh one, not on another
        // kept one, which it may have closed as well.
        auto c = tries == 0 ? take_idle(t->origin) : nullptr;
        const bool reused = c != nullptr;
        if (!c) c = co_await open(*t, r.error);
        if (!c) break;
        const auto end = co_await std::visit(
            [&](auto& stream) { return exchange(stream, *c, req, options_, r); }, c->stream);
        if (end == exchange_end::keep) keep_idle(t->origin, std::move(c));
        if (end != exchange_end::stale || !reused) break;
    }
    r.latency = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started);
    co_return r;
}

std::unique_ptr<webhook_sender::connection> webhook_sender::take_idle(const std::string& origin) {
    auto it = idle_.find(origin);
    if (it == idle_.end()) return nullptr;
    const auto fresh_after = clock_type::now() - options_.idle_timeout;
    while (!it->second.empty()) {
        auto c = std::move(it->second.back());  // the most recently used is the likeliest alive
        it->second.pop_back();
        if (c->idle_since >= fresh_after) return c;
    }
    idle_.erase(it);
    return nullptr;
}

void webhook_sender::keep_idle(const std::string& origin, std::unique_ptr<connection> c) {
    auto& list = idle_[origin];
    if (list.size() >= options_.idle_per_destination) return;  // closed as it goes
    c->idle_since = clock_type::now();
    c->tcp().expires_never();
    list.push_back(std::move(c));
}

void webhook_sender::sweep() {
    const auto fresh_after = clock_type::now() - options_.idle_timeout;
    for (auto it = idle_.begin(); it != idle_.end();) {
        auto& list = it->second;
        std::erase_if(list, [&](const auto& c) { return c->idle_since < fresh_after; });
        it = list.empty() ? idle_.erase(it) : std::next(it);
    }
}

std::size_t webhook_sender::idle_connections() const noexcept {
    std::size_t n = 0;
    for (const auto& [origin, list] : idle_) n += list.size();
    return n;
}

ssl::context make_client_tls_context(const std::string& ca_file) {
    ssl::context tls(ssl::context::tls_client);
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression);
    boost::system::error_code ec;
    if (ca_file.empty())
        tls.set_default_verify_paths(ec);
    else
        tls.load_verify_file(ca_file, ec);
    if (ec)
        throw std::runtime_error("webhooks.ca_file: cannot load " +
                                 (ca_file.empty() ? "the system's CA store" : ca_file) + ": " + ec.message());
    tls.set_verify_mode(ssl::verify_peer);
    return tls;
}

}  // namespace jobsd::server::webhooks

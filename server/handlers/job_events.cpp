// The subscription lives as long as the stream: it ends as soon as the client closes the
// connection (a comment line every 15 s also finds a client that vanished without a word), when
// its key is revoked (checked against each new catalog, within server.catalog_refresh_ms as for
// every other request), and a subscriber that falls too far behind is told so and cut off.
#include "server/handlers/job_events.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/url/parse.hpp>

#include "server/header_lookup.hpp"
#include "server/services.hpp"
#include "server/use_nothrow.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;

namespace {

std::string session_id_of(std::string_view target) {
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return {};
    auto params = url->params();
    if (auto it = params.find("session_id"); it != params.end() && (*it).has_value) return (*it).value;
    return {};
}

// Everything queued for the subscriber as one write's text; with `overflowed`, the notice that
// ends the stream.
std::string take_events(subscriber& sub) {
    std::string out;
    for (auto& event : sub.queue()) out.append("event: status\ndata: ").append(event).append("\n\n");
    sub.queue().clear();
    if (sub.overflowed())
        out.append("event: overflow\ndata: {\"message\":\"Too many events queued; reconnect\"}\n\n");
    return out;
}

constexpr std::string_view revoked_notice =
    "event: revoked\ndata: {\"message\":\"The API key was revoked\"}\n\n";
constexpr std::chrono::seconds ping_every{15};

// Whether the stream's key still belongs to its account: checked again only when the catalog
// has been replaced since `checked`.
bool key_holds(const request_context& ctx, std::string_view key, catalog_cache::snapshot& checked) {
    auto now = ctx.svc.catalog.get();
    if (now == checked) return true;
    checked = std::move(now);
    return ctx.svc.catalog.authenticate(*checked, key) == ctx.who.account_id;
}

}  // namespace

asio::awaitable<std::optional<response>> job_events(const request_context& ctx, event_stream& stream) {
    const std::string session_id = session_id_of(ctx.target);
    if (session_id.empty())
        co_return message_response(http::status::bad_request, "session_id query parameter is required");

    auto sub = ctx.svc.hub.subscribe(ctx.who.account_id, session_id, co_await asio::this_coro::executor,
                                     ctx.svc.options.max_streams_per_account);
    if (!sub) {
        auto res = message_response(http::status::too_many_requests,
                                    "Too many event streams open for this account; close one first");
        res.set(http::field::retry_after, "15");
        co_return res;
    }
    stream.begin();
    // The header is written by hand: the body has no length and ends when the connection does.
    static constexpr std::string_view header =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\nX-Accel-Buffering: no\r\n\r\n: subscribed\n\n";
    if (co_await stream.write(asio::buffer(header))) co_return std::nullopt;
    ctx.svc.counters.count_response(200);
    stream.on_close([sub] { sub->close(); });
    const std::string key(header_value(ctx.req, "x-api-key"));
    auto checked = ctx.who.catalog;
    const auto recheck =
        std::min<std::chrono::steady_clock::duration>(ctx.svc.options.catalog_refresh, ping_every);
    auto last_write = std::chrono::steady_clock::now();
    for (;;) {
        if (sub->closed()) co_return std::nullopt;
        if (!key_holds(ctx, key, checked)) {
            co_await stream.write(asio::buffer(revoked_notice));
            co_return std::nullopt;
        }
        // Events pushed while a write was under way are found here, not by the timer: a cancel
        // with no wait pending is lost, so the queue is always checked before waiting.
        if (!sub->queue().empty() || sub->overflowed()) {
            const std::string out = take_events(*sub);
            if (co_await stream.write(asio::buffer(out)) || sub->overflowed()) co_return std::nullopt;
            last_write = std::chrono::steady_clock::now();
            continue;
        }
        sub->wake().expires_after(
            std::min(recheck, last_write + ping_every - std::chrono::steady_clock::now()));
        auto [wait_ec] = co_await sub->wake().async_wait(use_nothrow);
        if (wait_ec || !sub->queue().empty() || std::chrono::steady_clock::now() < last_write + ping_every)
            continue;
        if (co_await stream.write(asio::buffer(std::string_view(": ping\n\n")))) co_return std::nullopt;
        last_write = std::chrono::steady_clock::now();
    }
}

}  // namespace jobsd::server::handlers

// Route handlers. Expected failures become their documented answers; a store failure becomes
// 503 (busy) or 500 here, and anything thrown is answered 500 by the session.
#include "server/api.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <tuple>
#include <vector>

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "model/json_text.hpp"
#include "model/uuid.hpp"
#include "server/tls_context.hpp"
#include "store/store_error.hpp"

namespace jobsd::server {

namespace asio = boost::asio;
namespace json = boost::json;
namespace beast = boost::beast;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

bool is_json_content_type(std::string_view value) {
    const auto semi = value.find(';');
    auto media = value.substr(0, semi);
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
    constexpr std::string_view expected = "application/json";
    if (media.size() != expected.size()) return false;
    for (std::size_t i = 0; i < media.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(media[i])) != expected[i]) return false;
    return true;
}

void set_rate_headers(response& res, const rate_decision& d) {
    res.set("RateLimit-Limit", std::to_string(d.limit));
    res.set("RateLimit-Remaining", std::to_string(d.remaining));
    res.set("RateLimit-Reset", std::to_string(d.reset_s));
}

// The 201 body of a create (and of its replay), written as text: it is on the hot path.
std::string created_body(std::string_view uuid, model::job_type type, std::string_view source_id) {
    std::string body;
    body.reserve(160 + uuid.size() + source_id.size());
    body += R"({"message":"Job update accepted and processing.","job":{"uuid":)";
    model::append_json_string(body, uuid);
    body += R"(,"job_status":)";
    model::append_json_string(body, model::to_string(model::job_status::queued));
    body += R"(,"job_type":)";
    model::append_json_string(body, model::to_string(type));
    body += R"(,"template_id":)";
    model::append_json_string(body, source_id);
    body += "}}";
    return body;
}

// Appends stored JSON text as it is when it parses (it was checked on the way in), else as a
// string. With `values`, then appends `,"values":` and the input's "values" member (or {}).
void append_stored_json(std::string& out, std::string_view text, bool values = false) {
    // The parse only validates (and finds `values`): its nodes live in a stack buffer, with the
    // heap as fallback for a large document.
    unsigned char buffer[4096];
    json::monotonic_resource scratch(buffer, sizeof buffer);
    boost::system::error_code ec;
    const auto v = json::parse(text, ec, &scratch);
    if (ec)
        model::append_json_string(out, text);
    else
        out += text;
    if (!values) return;
    out += R"(,"values":)";
    const json::value* member = nullptr;
    if (const auto* in = ec ? nullptr : v.if_object()) member = in->if_contains("values");
    if (member)
        out += json::serialize(*member);
    else
        out += "{}";
}

// GET /jobs/:id's body, written as text around the stored input and output (no DOM of either is
// built and serialized again; `values` is the only part re-serialized).
std::string job_body(const store::job_record& job) {
    std::string body;
    body.reserve(2 * job.input.size() + (job.output ? job.output->size() : 0) + 512);
    body += R"({"uuid":)";
    model::append_json_string(body, job.uuid);
    body += R"(,"user_id":)";
    model::append_json_string(body, job.account_id);
    body += R"(,"template_id":)";
    model::append_json_string(body, job.source_id);
    body += R"(,"job_type":)";
    model::append_json_string(body, model::to_string(job.type));
    body += R"(,"job_status":)";
    model::append_json_string(body, model::to_string(job.status));
    body += R"(,"input":)";
    append_stored_json(body, job.input, true);
    body += R"(,"output":)";
    if (job.output)
        append_stored_json(body, *job.output);
    else
        body += "null";
    body += R"(,"created_at":)";
    model::append_json_string(body, model::format_iso8601(job.created_ms));
    body += R"(,"updated_at":)";
    model::append_json_string(body, model::format_iso8601(job.updated_ms));
    if (job.progress) {
        body += R"(,"progress":)";
        body += std::to_string(*job.progress);
    }
    if (job.error) {
        body += R"(,"error":)";
        model::append_json_string(body, *job.error);
    }
    body += '}';
    return body;
}

json::value optional_date(const std::optional<std::int64_t>& ms) {
    if (!ms) return nullptr;
    return json::value(model::format_iso8601(*ms));
}

}  // namespace

std::optional<response> api::check_header(const http::request_header<>& header, admitted& out) const {
    out.match = match_route(header.method(), header.target());
    switch (out.match.which) {
        case route::none:
            return message_response(http::status::not_found, "Not found");
        case route::wrong_method: {
            auto res = message_response(http::status::method_not_allowed, "Method not allowed");
            res.set(http::field::allow, out.match.allow);
            return res;
        }
        default:
            break;
    }
    if (needs_operator_key(out.match.which)) {
        // Operator keys live apart from customer keys; a customer key is told it is the wrong kind.
        const auto key = header["x-api-key"];
        if (key.empty())
            return message_response(http::status::unauthorized, "Operator key required (x-api-key header)");
        out.catalog = catalog_.get();
        if (catalog_.authenticate_operator(*out.catalog, key)) return std::nullopt;
        if (catalog_.authenticate(*out.catalog, key))
            return message_response(http::status::forbidden,
                                    "This route needs an operator key; customer API keys are not accepted");
        return message_response(http::status::unauthorized, "Unauthorized: unknown or revoked operator key");
    }
    if (!needs_api_key(out.match.which)) return std::nullopt;

    out.catalog = catalog_.get();
    auto account = catalog_.authenticate(*out.catalog, header["x-api-key"]);
    if (!account) return message_response(http::status::unauthorized, "Unauthorized");
    out.account_id = std::move(*account);

    if (out.match.which == route::create_job) {
        if (limiter_.enabled()) {
            out.rate = limiter_.take(out.account_id);
            if (!out.rate->allowed) {
                auto res =
                    message_response(http::status::too_many_requests, "Rate limit exceeded, retry later");
                set_rate_headers(res, *out.rate);
                res.set(http::field::retry_after, std::to_string(out.rate->retry_after_s));
                return res;
            }
        }
        if (options_.max_outbox_backlog > 0 &&
            outbox_backlog_.load(std::memory_order_relaxed) > options_.max_outbox_backlog) {
            auto res = message_response(http::status::service_unavailable,
                                        "Too many jobs waiting for the broker, retry later");
            res.set(http::field::retry_after, "5");
            return res;
        }
        if (!is_json_content_type(header[http::field::content_type]))
            return message_response(http::status::unsupported_media_type,
                                    "Content-Type must be application/json");
        const auto length = header[http::field::content_length];
        if (!length.empty()) {
            std::uint64_t n = 0;
            for (char c : length)
                n = n * 10 + static_cast<unsigned>(c - '0');  // the parser checked the digits
            if (n > options_.body_limit)
                return message_response(http::status::payload_too_large, "Request body too large");
        }
    }
    return std::nullopt;
}

asio::awaitable<response> api::handle(const request& req, admitted& a) const {
    switch (a.match.which) {
        case route::create_job:
            co_return co_await create_job(req, a);
        case route::get_job:
            co_return co_await get_job(a);
        case route::active_projects:
            co_return active_projects(a);
        case route::mapping_fields:
            co_return mapping_fields(a);
        case route::healthz:
            co_return healthz();
        case route::readyz:
            co_return readyz();
        case route::metrics:
            co_return co_await metrics_page();
        case route::queues:
            co_return co_await operator_.queues();
        case route::dashboard_data:
            co_return co_await operator_.dashboard_data();
        case route::dashboard_page:
            co_return operator_.dashboard_page(a.match.param);
        case route::job_events:  // streamed by the session, never answered here
        case route::none:
        case route::wrong_method:
            break;
    }
    co_return message_response(http::status::not_found, "Not found");
}

asio::awaitable<response> api::create_job(const request& req, const admitted& a) const {
    auto parsed = model::parse_create_request(req.body());
    if (auto* error = std::get_if<model::request_error>(&parsed)) co_return request_error_response(*error);
    const auto& create = std::get<model::create_request>(parsed);

    const auto now = model::now_ms();
    auto source = model::resolve_source(*a.catalog, a.account_id, create, now);
    if (!source.problem.empty()) co_return message_response(http::status::bad_request, source.problem);

    // Idempotent create: a key seen before (same account, within the store's window) replays its job.
    const std::string_view idempotency_key = req["Idempotency-Key"];
    std::string request_hash;
    auto find_by_key = [&] {
        return store::async_find_by_idempotency_key(store_, a.account_id, std::string(idempotency_key),
                                                    use_nothrow);
    };
    if (!idempotency_key.empty()) {
        if (idempotency_key.size() > 255)
            co_return message_response(http::status::bad_request,
                                       "Idempotency-Key must be at most 255 characters");
        request_hash = model::sha256_hex(req.body());
        auto [fec, earlier] = co_await find_by_key();
        if (fec) {
            spdlog::error("request {}: idempotency lookup: {}", a.request_id, fec.message());
            co_return message_response(http::status::internal_server_error, "Internal server error");
        }
        if (earlier) co_return replay(*earlier, request_hash);
    }

    store::job_record job;
    job.uuid = model::new_uuid();
    job.idempotency_key = std::string(idempotency_key);
    job.request_hash = request_hash;
    job.account_id = a.account_id;
    job.source_id = source.id;
    job.type = create.type;
    job.session_id = create.session_id;
    job.version = create.version;
    job.input = req.body();
    job.created_ms = job.updated_ms = now;
    const std::string uuid = job.uuid;
    // The publisher gets its own copy once the row is committed (its key fields are not needed).
    std::optional<model::job> for_publisher;
    if (publisher_) {
        for_publisher = job;
        for_publisher->idempotency_key.clear();
        for_publisher->request_hash.clear();
    }

    auto [ec] = co_await store::async_create_job(store_, std::move(job), use_nothrow);
    if (ec == store::store_errc::duplicate && !idempotency_key.empty()) {
        // A concurrent request with the same key won the race: answer as its repeat.
        auto [fec, winner] = co_await find_by_key();
        if (!fec && winner) co_return replay(*winner, request_hash);
    }
    if (ec == store::store_errc::busy || ec == store::store_errc::closed) {
        auto res = message_response(http::status::service_unavailable, "Server is busy, retry later");
        res.set(http::field::retry_after, "1");
        co_return res;
    }
    if (ec) {
        spdlog::error("request {}: create job {}: {}", a.request_id, uuid, ec.message());
        co_return message_response(http::status::internal_server_error, "Internal server error");
    }
    metrics_.count_job_created(create.type);
    if (hub_.subscribers() > 0) {  // no event text is built when nobody listens
        model::job_event queued;
        queued.uuid = uuid;
        queued.status = model::job_status::queued;
        queued.at_ms = now;
        hub_.publish(a.account_id, create.session_id, model::to_json(queued, model::to_string(create.type)));
    }
    // The row is committed: hand it to the publisher (never blocks; the outbox keeps it if the
    // broker is away).
    if (for_publisher) publisher_->submit(std::move(*for_publisher));
    auto created = json_response(http::status::created, created_body(uuid, create.type, source.id));
    if (a.rate) set_rate_headers(created, *a.rate);
    co_return created;
}

response api::replay(const store::job_record& original, const std::string& request_hash) const {
    if (original.request_hash != request_hash)
        return message_response(http::status::unprocessable_entity,
                                "Idempotency-Key was already used with a different request body");
    auto res =
        json_response(http::status::created, created_body(original.uuid, original.type, original.source_id));
    res.set("Idempotent-Replayed", "true");
    return res;
}

asio::awaitable<response> api::get_job(const admitted& a) const {
    const std::string uuid(a.match.param);
    // Ids we never issue need no store round trip.
    if (!model::is_uuid(uuid)) co_return message_response(http::status::not_found, "Job not found");
    auto [ec, found] = co_await store::async_find_job(store_, a.account_id, uuid, use_nothrow);
    if (ec) {
        spdlog::error("request {}: read job {}: {}", a.request_id, uuid, ec.message());
        co_return message_response(http::status::internal_server_error, "Internal server error");
    }
    if (!found) co_return message_response(http::status::not_found, "Job not found");

    co_return json_response(http::status::ok, job_body(*found));
}

std::optional<response> api::check_events_request(const request& req, std::string& session_id) const {
    auto url = boost::urls::parse_origin_form(req.target());
    if (url) {
        auto params = url->params();
        if (auto it = params.find("session_id"); it != params.end() && (*it).has_value)
            session_id = (*it).value;
    }
    if (session_id.empty())
        return message_response(http::status::bad_request, "session_id query parameter is required");
    return std::nullopt;
}

template <class Stream>
asio::awaitable<void> api::stream_events(Stream& stream, const std::string& account_id,
                                         const std::string& session_id) const {
    beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
    auto sub = hub_.subscribe(account_id, session_id, co_await asio::this_coro::executor);
    // The header is written by hand: the body has no length and ends when the connection does.
    static constexpr std::string_view header =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\nX-Accel-Buffering: no\r\n\r\n: subscribed\n\n";
    tcp.expires_after(options_.read_timeout);
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(header), use_nothrow);
    if (ec) co_return;
    metrics_.count_response(200);
    std::string out;
    for (;;) {
        // Events pushed while a write was under way are found here, not by the timer: a cancel
        // with no wait pending is lost, so the queue is always checked before waiting.
        if (!sub->queue().empty() || sub->overflowed()) {
            out.clear();
            for (auto& event : sub->queue()) out.append("event: status\ndata: ").append(event).append("\n\n");
            sub->queue().clear();
            if (sub->overflowed())
                out.append("event: overflow\ndata: {\"message\":\"Too many events queued; reconnect\"}\n\n");
            tcp.expires_after(options_.read_timeout);
            std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(out), use_nothrow);
            if (ec || sub->overflowed()) co_return;
            continue;
        }
        // Wait for the next event; a comment line every 15 s finds a client that went away.
        sub->wake().expires_after(std::chrono::seconds(15));
        auto [wait_ec] = co_await sub->wake().async_wait(use_nothrow);
        if (!wait_ec && sub->queue().empty()) {
            tcp.expires_after(options_.read_timeout);
            std::tie(ec, n) =
                co_await asio::async_write(stream, asio::buffer(std::string_view(": ping\n\n")), use_nothrow);
            if (ec) co_return;
        }
    }
}

// The two streams a session runs over: plain TCP and TLS.
template asio::awaitable<void> api::stream_events(beast::tcp_stream&, const std::string&,
                                                  const std::string&) const;
template asio::awaitable<void> api::stream_events(tls_stream&, const std::string&, const std::string&) const;

response api::healthz() const {
    json::object body{{"status", "ok"}};
    if (publisher_)
        body["broker"] = publisher_->stats().connected ? "connected" : "down";
    else
        body["broker"] = "disabled";
    return json_response(http::status::ok, json::serialize(body));
}

response api::readyz() const {
    // Ready means a job posted now is committed and on its way: the store takes writes and the
    // broker is connected. Not ready while shutting down either, so balancers move away first.
    json::array reasons;
    if (draining()) reasons.push_back("shutting down");
    const auto stats = store_.stats();
    if (stats.write_queue >= stats.write_queue_max) reasons.push_back("store write queue is full");
    if (publisher_ && !publisher_->stats().connected)
        reasons.push_back(json::string("broker disconnected; " +
                                       std::to_string(outbox_backlog_.load(std::memory_order_relaxed)) +
                                       " jobs wait in the outbox"));
    if (options_.max_outbox_backlog > 0 &&
        outbox_backlog_.load(std::memory_order_relaxed) > options_.max_outbox_backlog)
        reasons.push_back("outbox backlog past its bound");
    if (reasons.empty()) return json_response(http::status::ok, R"({"status":"ready"})");
    return json_response(
        http::status::service_unavailable,
        json::serialize(json::object{{"status", "not ready"}, {"reasons", std::move(reasons)}}));
}

asio::awaitable<response> api::metrics_page() const {
    auto [ec, outbox] = co_await store::async_read_outbox_stats(store_, use_nothrow);
    if (ec) spdlog::warn("metrics: outbox stats unavailable: {}", ec.message());
    const auto jobs = co_await operator_.job_counts();
    response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = metrics_.render(store_.stats(), ec ? nullptr : &outbox, jobs ? &*jobs : nullptr);
    res.prepare_payload();
    co_return res;
}

response api::active_projects(const admitted& a) const {
    const auto now = model::now_ms();
    std::vector<const model::project*> active;
    for (const auto& [id, p] : a.catalog->projects)
        if (p.account_id == a.account_id && p.active_at(now)) active.push_back(&p);
    // A stable order for clients that page or diff: by name, then id.
    std::sort(active.begin(), active.end(), [](const auto* l, const auto* r) {
        return std::tie(l->name, l->id) < std::tie(r->name, r->id);
    });
    json::array data;
    for (const auto* p : active)
        data.push_back(json::object{{"projectId", p->id},
                                    {"projectName", p->name},
                                    {"projectType", p->type},
                                    {"startDate", optional_date(p->start_ms)},
                                    {"endDate", optional_date(p->end_ms)}});
    return json_response(http::status::ok,
                         json::serialize(json::object{{"message", "Success"}, {"data", data}}));
}

response api::mapping_fields(const admitted& a) const {
    const auto* p = a.catalog->find_project(a.account_id, std::string(a.match.param));
    if (!p) return message_response(http::status::not_found, "Project not found");
    json::object data{{"projectId", p->id},
                      {"projectName", p->name},
                      {"projectType", p->type},
                      {"fields", p->mapping_fields},
                      {"fetchedAt", model::format_iso8601(model::now_ms())}};
    return json_response(http::status::ok,
                         json::serialize(json::object{{"message", "Success"}, {"data", data}}));
}

}  // namespace jobsd::server

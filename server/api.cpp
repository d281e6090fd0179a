// Admission order: an ambiguous identity or an unusable request-target form (400), then the
// route (404, 405 with Allow), then the key (401, or 403 for the wrong kind of key), then the
// route's header check. Dispatch is the error boundary: whatever a handler throws
// is answered by answer_failure.
#include "server/api.hpp"

#include "server/error_boundary.hpp"
#include "server/header_lookup.hpp"
#include "server/request_target.hpp"

#include <array>

namespace jobsd::server {

namespace asio = boost::asio;

namespace {

// Headers that select an account or an idempotency record. A request carrying one of them twice
// is ambiguous (a proxy in front may have checked the other value): refused before any work.
constexpr std::array<std::string_view, 2> identity_headers{"x-api-key", "Idempotency-Key"};

std::optional<response> check_identity_headers(const http::request_header<>& header) {
    for (auto name : identity_headers)
        if (header_count(header, name) > 1)
            return message_response(http::status::bad_request,
                                    "Header " + std::string(name) + " was sent more than once; send it once");
    return std::nullopt;
}

// Routes take the origin form; the absolute form is taken when its authority agrees with Host
// (RFC 9112 §3.2.2: a server accepts it; a Host saying otherwise makes the request ambiguous).
std::optional<response> check_target(const http::request_header<>& header, std::string_view& origin) {
    const auto t = parse_request_target(header.target());
    switch (t.kind) {
        case request_target::form::origin:
            origin = t.origin;
            return std::nullopt;
        case request_target::form::absolute:
            if (!same_authority(t.authority, header[http::field::host]))
                return message_response(http::status::bad_request,
                                        "The Host header does not match the authority of the request target");
            origin = t.origin;
            return std::nullopt;
        case request_target::form::asterisk:
            return message_response(
                http::status::bad_request,
                "The request target * is only for server-wide OPTIONS, which jobsd does not serve");
        case request_target::form::authority:
            return message_response(
                http::status::bad_request,
                "An authority-form request target is only for CONNECT; jobsd is not a proxy");
        case request_target::form::invalid:
            break;
    }
    return message_response(http::status::bad_request, "Bad request target");
}

}  // namespace

std::optional<response> api::authenticate(const route& r, const http::request_header<>& header,
                                          caller& who) const {
    const auto key = header_value(header, "x-api-key");
    switch (r.who) {
        case access::anyone:
            return std::nullopt;
        case access::operator_key:
            // Operator keys live apart from customer keys; a customer key is told it is the wrong kind.
            if (key.empty())
                return message_response(http::status::unauthorized,
                                        "Operator key required (x-api-key header)");
            who.catalog = svc_.catalog.get();
            if (svc_.catalog.authenticate_operator(*who.catalog, key)) return std::nullopt;
            if (svc_.catalog.authenticate(*who.catalog, key))
                return message_response(
                    http::status::forbidden,
                    "This route needs an operator key; customer API keys are not accepted");
            return message_response(http::status::unauthorized,
                                    "Unauthorized: unknown or revoked operator key");
        case access::customer_key: {
            who.catalog = svc_.catalog.get();
            auto account = svc_.catalog.authenticate(*who.catalog, key);
            if (!account) return message_response(http::status::unauthorized, "Unauthorized");
            who.account_id = std::move(*account);
            return std::nullopt;
        }
    }
    return message_response(http::status::unauthorized, "Unauthorized");
}

std::size_t api::body_limit(const http::request_header<>& header) const {
    std::string_view origin;
    if (check_target(header, origin)) return svc_.options.body_limit;
    const auto m = match_route(table_, header.method(), origin);
    if (m.result != route_match::outcome::found) return svc_.options.body_limit;
    return svc_.options.*(m.which->body_limit);
}

admission api::admit(const http::request_header<>& header) const {
    admission a;
    a.refusal = check_identity_headers(header);
    if (!a.refusal) a.refusal = check_target(header, a.target);
    if (a.refusal) return a;
    a.match = match_route(table_, header.method(), a.target);
    switch (a.match.result) {
        case route_match::outcome::not_found:
            a.refusal = message_response(http::status::not_found, "Not found");
            return a;
        case route_match::outcome::wrong_method:
            a.refusal = message_response(http::status::method_not_allowed, "Method not allowed");
            a.refusal->set(http::field::allow, a.match.allow);
            return a;
        case route_match::outcome::found:
            break;
    }
    const route& r = *a.match.which;
    a.refusal = authenticate(r, header, a.who);
    if (!a.refusal && r.check) a.refusal = r.check(svc_, header, a.who);
    return a;
}

asio::awaitable<std::optional<response>> api::respond(const request& req, const admission& a,
                                                      event_stream& stream) const {
    const route& r = *a.match.which;
    const request_context ctx{svc_, req, a.target, a.match.param, a.who};
    std::exception_ptr failure;
    try {
        if (r.stream) co_return co_await r.stream(ctx, stream);
        co_return co_await r.answer(ctx);
    } catch (...) {
        failure = std::current_exception();
    }
    // A stream that already began cannot be answered any more; its failure is only logged.
    auto res = answer_failure(failure, req, a.who.request_id);
    co_return std::optional<response>(std::move(res));
}

}  // namespace jobsd::server

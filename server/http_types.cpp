// Error bodies share one shape: a human `message`, plus `errors` for field problems.
#include "server/http_types.hpp"

#include <boost/json/serialize.hpp>

#include "model/json_text.hpp"

namespace jobsd::server {

namespace json = boost::json;

response json_response(http::status status, std::string body) {
    response res{status, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

void set_page_security_headers(response& res) {
    res.set("Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");  // frame-ancestors for browsers that predate it
}

response message_response(http::status status, std::string_view message) {
    // Written as text: refusals (401, 429, 503) must stay cheap under hostile traffic.
    std::string body;
    body.reserve(message.size() + 16);
    body += R"({"message":)";
    model::append_json_string(body, message);
    body += '}';
    return json_response(status, std::move(body));
}

response request_error_response(const model::request_error& error) {
    json::object body{{"message", error.message}};
    if (!error.errors.empty()) {
        json::array errors;
        for (const auto& e : error.errors)
            errors.push_back(json::object{{"field", e.field}, {"problem", e.problem}});
        body["errors"] = std::move(errors);
    }
    return json_response(http::status::bad_request, json::serialize(body));
}

}  // namespace jobsd::server

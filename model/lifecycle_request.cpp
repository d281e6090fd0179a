// Whitespace alone counts as no body; a body is strict JSON (model/strict_json.hpp) and an object
// whose every member is known.
#include "model/lifecycle_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "model/strict_json.hpp"

namespace jobsd::model {

namespace json = boost::json;

namespace {

bool blank(std::string_view body) {
    return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The body as an object, or why it is refused.
std::variant<json::object, request_error> read_object(std::string_view body) {
    if (auto problem = strict_json_problem(body); !problem.empty()) {
        if (problem != "Malformed JSON body") problem = "Malformed JSON body: " + problem;
        return request_error{request_error::kind::malformed_json, std::move(problem), {}};
    }
    boost::system::error_code ec;
    json::value doc = json::parse(body, ec);
    if (ec) return request_error{request_error::kind::malformed_json, "Malformed JSON body", {}};
    if (!doc.is_object())
        return request_error{request_error::kind::not_object, "Request body must be a JSON object", {}};
    return std::move(doc.get_object());
}

void refuse_unknown(const json::object& o, std::string_view known, std::vector<field_error>& errors) {
    for (const auto& member : o)
        if (member.key() != known)
            errors.push_back({std::string(member.key()), "is not a field of this request"});
}

}  // namespace

std::optional<request_error> check_cancel_request(std::string_view body) {
    if (blank(body)) return std::nullopt;
    auto read = read_object(body);
    if (auto* error = std::get_if<request_error>(&read)) return std::move(*error);
    std::vector<field_error> errors;
    refuse_unknown(std::get<json::object>(read), "", errors);
    if (errors.empty()) return std::nullopt;
    return request_error{request_error::kind::invalid_fields, "Invalid request", std::move(errors)};
}

std::variant<retry_request, request_error> parse_retry_request(std::string_view body,
                                                               const create_limits& limits) {
    retry_request req;
    if (blank(body)) return req;
    auto read = read_object(body);
    if (auto* error = std::get_if<request_error>(&read)) return std::move(*error);
    const auto& o = std::get<json::object>(read);
    std::vector<field_error> errors;
    refuse_unknown(o, "expires_in_s", errors);
    if (const auto* v = o.if_contains("expires_in_s"); v && !v->is_null()) {
        const double d = v->is_number() ? v->to_number<double>() : -1;
        if (!v->is_number() || d < 1 || d > static_cast<double>(limits.max_expires_in_s) ||
            d != static_cast<double>(static_cast<std::int64_t>(d)))
            errors.push_back({"expires_in_s", "must be a whole number of seconds from 1 to " +
                                                  std::to_string(limits.max_expires_in_s)});
        else
            req.expires_in_s = static_cast<std::int64_t>(d);
    }
    if (!errors.empty())
        return request_error{request_error::kind::invalid_fields, "Invalid request", std::move(errors)};
    return req;
}

}  // namespace jobsd::model

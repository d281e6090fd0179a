// Parsed with Boost.URL (RFC 3986), so a URL is read here exactly as the sender reads it later.
#include "model/webhook_url.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

namespace jobsd::model {

namespace {

// A host name as DNS knows it (an internationalised one in its ASCII form): letters, digits,
// '-', '_' and '.'. Percent-encoding may spell any bytes, which no resolver looks up and which
// would come back in every error about the host.
bool dns_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::string webhook_url_problem(std::string_view url) {
    if (url.empty()) return "must not be empty";
    if (url.size() > webhook_url_max)
        return "must be at most " + std::to_string(webhook_url_max) + " characters";
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) return "must be an absolute http or https URL";
    const auto scheme = lower(u->scheme());
    if (scheme != "http" && scheme != "https") return "must be an http or https URL";
    if (u->encoded_host().empty()) return "must name a host";
    if (u->host_type() == boost::urls::host_type::ipvfuture ||
        (u->host_type() == boost::urls::host_type::name && !dns_name(u->host_name())))
        return "must name its host by a DNS name or an IP address";
    if (u->has_userinfo()) return "must not carry a user or password";
    if (u->has_port() && (u->port().empty() || u->port_number() == 0)) return "has an invalid port";
    return {};
}

std::string webhook_origin(std::string_view url) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) return std::string(url);
    const auto scheme = lower(u->scheme());
    std::string port = u->has_port() ? std::string(u->port()) : (scheme == "https" ? "443" : "80");
    return scheme + "://" + lower(u->encoded_host_address()) + ":" + port;
}

}  // namespace jobsd::model

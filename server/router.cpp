// Patterns are matched segment by segment, without allocating. A HEAD is served by the GET row
// of its path when that row answers (not a stream): the session sends the GET's head alone.
#include "server/router.hpp"

#include <climits>

namespace jobsd::server {

namespace http = boost::beast::http;

namespace {

// The next segment of `s` (which starts after a '/'), and `s` advanced past it and its '/'.
std::string_view next_segment(std::string_view& s, bool& more) {
    const auto slash = s.find('/');
    const auto seg = s.substr(0, slash);
    more = slash != std::string_view::npos;
    s = more ? s.substr(slash + 1) : std::string_view{};
    return seg;
}

// Whether `r` serves a request of `method`: its own, or HEAD for a GET row that answers (RFC 9110
// §9.3.2). A stream has no head apart from its body: HEAD there is refused with 405.
bool serves(const route& r, http::verb method) {
    return r.method == method || (method == http::verb::head && r.method == http::verb::get && r.answer);
}

std::string_view normalized_path(std::string_view target) {
    auto path = target.substr(0, target.find('?'));
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    return path;
}

}  // namespace

bool match_pattern(std::string_view pattern, std::string_view path, std::string_view& param, int& params) {
    return match_pattern(pattern, pattern.find(':'), path, param, params);
}

bool match_pattern(std::string_view pattern, std::size_t colon, std::string_view path,
                   std::string_view& param, int& params) {
    params = 0;
    param = {};
    // Fast paths, since every request is matched against every row: a pattern with no parameter
    // is the path itself, and any other must share its literal prefix with the path.
    if (colon == std::string_view::npos) return path == pattern;
    const auto literal = pattern.substr(0, colon);  // ends with '/'
    if (!path.starts_with(literal)) {
        // "/dashboard" for "/dashboard/:file?": an optional last parameter may be absent.
        return pattern.ends_with('?') && pattern.find('/', colon) == std::string_view::npos &&
               path == literal.substr(0, literal.size() - 1);
    }
    if (pattern.empty() || path.empty() || pattern.front() != '/' || path.front() != '/') return false;
    pattern.remove_prefix(colon);
    path.remove_prefix(colon);
    bool pattern_more = true, path_more = true;
    while (pattern_more) {
        const auto want = next_segment(pattern, pattern_more);
        const bool is_param = want.starts_with(':');
        const bool optional = is_param && want.ends_with('?');
        if (!path_more) return optional && !pattern_more;
        const auto seg = next_segment(path, path_more);
        if (is_param) {
            if (seg.empty()) return optional && !pattern_more && !path_more;
            param = seg;
            ++params;
        } else if (seg != want) {
            return false;
        }
    }
    return !path_more;
}

route_match match_route(std::span<const route> table, http::verb method, std::string_view target) {
    const auto path = normalized_path(target);
    // Among the rows whose pattern takes the path, those with the fewest parameters count; the
    // method picks one of them. No allocation unless the answer is 405.
    int fewest = INT_MAX;
    route_match m;
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (table[i].min_params > fewest) continue;  // it could only lose to a match found already
        std::string_view param;
        int n = 0;
        if (!match_pattern(table[i].pattern, table[i].literal_size, path, param, n) || n > fewest) continue;
        if (n < fewest) {
            fewest = n;
            m = route_match{};
            m.result = route_match::outcome::wrong_method;
        }
        if (serves(table[i], method) && m.result != route_match::outcome::found)
            m = route_match{route_match::outcome::found, &table[i], i, param, {}};
    }
    if (m.result != route_match::outcome::wrong_method) return m;
    for (const auto& r : table) {
        std::string_view param;
        int n = 0;
        if (!match_pattern(r.pattern, r.literal_size, path, param, n) || n != fewest) continue;
        const auto name = http::to_string(r.method);
        if (!m.allow.empty()) m.allow += ", ";
        m.allow.append(name.data(), name.size());
        if (serves(r, http::verb::head) && r.method != http::verb::head) m.allow += ", HEAD";
    }
    return m;
}

std::size_t metrics_slot(const route_match& m) noexcept {
    switch (m.result) {
        case route_match::outcome::found:
            return 2 + m.index;
        case route_match::outcome::wrong_method:
            return wrong_method_slot;
        case route_match::outcome::not_found:
            break;
    }
    return unrouted_slot;
}

std::vector<std::string_view> slot_names(std::span<const route> table) {
    std::vector<std::string_view> names{"unknown", "wrong_method"};
    for (const auto& r : table) names.push_back(r.name);
    return names;
}

}  // namespace jobsd::server

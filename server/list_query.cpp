// Parameters are read decoded (Boost.URL), and kept encoded for the next link so that it asks for
// exactly what this request asked for. Base64 is OpenSSL's, in its URL-safe alphabet.
#include "server/list_query.hpp"

#include <openssl/evp.h>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <vector>

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "model/job_status.hpp"
#include "model/storable_text.hpp"
#include "model/uuid.hpp"

namespace jobsd::server {

namespace {

constexpr std::string_view cursor_version = "1.";

// "must be one of QUEUED, …, EXPIRED", from the status table.
std::string status_problem() {
    std::string text = "must be one of ";
    for (const auto& row : model::job_status_table) {
        if (row.status != model::job_status_table.front().status) text += ", ";
        text += row.name;
    }
    return text;
}

model::request_error query_error(std::string field, std::string problem) {
    return {model::request_error::kind::invalid_fields,
            "Invalid query",
            {{std::move(field), std::move(problem)}}};
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// One parameter's value into `r`; a problem text, or "" when it is fine.
std::string apply(list_request& r, std::string_view key, const std::string& value) {
    auto& q = r.query;
    if (key == "status") {
        auto s = model::parse_job_status(value);
        if (!s) return status_problem();
        q.statuses.push_back(*s);
    } else if (key == "job_type") {
        auto t = model::parse_job_type(value);
        if (!t)
            return "must be one of ai_talking_video, video, tts, image, photo_qc, pdf, ai_image_generation";
        q.type = *t;
    } else if (key == "session_id") {
        q.session_id = value;
    } else if (key == "template_id" || key == "project_id") {
        if (q.source_id && *q.source_id != value)
            return "names another project than template_id; give one of them";
        q.source_id = value;
    } else if (key == "created_after" || key == "created_before") {
        auto ms = model::parse_iso8601(value);
        if (!ms) return "must be an ISO-8601 time such as 2026-04-16T12:00:00Z";
        (key == "created_after" ? q.created_after : q.created_before) = *ms;
    } else if (key == "limit") {
        auto n = parse_int(value);
        if (!n || *n < 1 || *n > static_cast<std::int64_t>(max_page_size))
            return "must be a whole number from 1 to " + std::to_string(max_page_size);
        q.limit = static_cast<std::size_t>(*n);
    } else if (key == "cursor") {
        auto at = decode_cursor(value);
        if (!at) return "is not a cursor this API gave out; start again without one";
        q.after = std::move(*at);
    } else {
        return "is not a parameter of this route";
    }
    return {};
}

}  // namespace

std::variant<list_request, model::request_error> parse_list_query(std::string_view target) {
    list_request r;
    r.query.limit = default_page_size;
    auto url = boost::urls::parse_origin_form(target);
    if (!url) return query_error("(query)", "is not a valid query string");
    std::vector<std::string> seen;
    for (const auto& p : url->params()) {
        // An empty piece ("?status=QUEUED&", "a=1&&b=2") names nothing: skipped, as servers do.
        if (p.key.empty() && !p.has_value) continue;
        const std::string key = p.key;
        // Decoded, a parameter may be any bytes; a name that is not text is not repeated back.
        if (!model::is_storable_text(key))
            return query_error("(query)", "names a parameter that is not UTF-8 text");
        if (!model::is_storable_text(p.value)) return query_error(key, "must be UTF-8 text");
        if (key != "status" && std::find(seen.begin(), seen.end(), key) != seen.end())
            return query_error(key, "was given more than once");
        seen.push_back(key);
        if (p.value.empty()) return query_error(key, "must not be empty");
        if (auto problem = apply(r, key, p.value); !problem.empty())
            return query_error(key, std::move(problem));
    }
    for (const auto& p : url->encoded_params()) {
        if (p.key == "cursor" || (p.key.empty() && !p.has_value)) continue;
        r.other_params += std::string_view(p.key);
        r.other_params += '=';
        r.other_params += std::string_view(p.value);
        r.other_params += '&';
    }
    return r;
}

// A checksum over the position: a changed or cut cursor is refused instead of being read as another
// position. Not a secret (a cursor only ever selects among the caller's own jobs).
static std::string checksum(std::string_view position) {
    return model::sha256_hex(position).substr(0, 12);
}

std::string encode_cursor(const store::job_position& last) {
    std::string plain = std::string(cursor_version) + std::to_string(last.created_ms) + "." + last.uuid;
    plain += "." + checksum(plain);
    std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

std::optional<store::job_position> decode_cursor(std::string_view text) {
    if (text.empty() || text.size() > 128 || text.size() % 4 == 1) return std::nullopt;
    std::string b64;
    for (char c : text) {
        const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!plain && c != '-' && c != '_') return std::nullopt;
        b64 += c == '-' ? '+' : c == '_' ? '/' : c;
    }
    const std::size_t padding = (4 - b64.size() % 4) % 4;
    b64.append(padding, '=');
    std::string plain(b64.size() / 4 * 3, '\0');
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(plain.data()),
                        reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    if (n < 0) return std::nullopt;
    plain.resize(static_cast<std::size_t>(n) - padding);
    // "1.<created_ms>.<uuid>.<checksum>"; canonical only: re-encoding must give the same text back.
    const auto last_dot = plain.rfind('.');
    if (last_dot == std::string::npos || plain.substr(last_dot + 1) != checksum(plain.substr(0, last_dot)))
        return std::nullopt;
    std::string_view rest = std::string_view(plain).substr(0, last_dot);
    if (!rest.starts_with(cursor_version)) return std::nullopt;
    rest.remove_prefix(cursor_version.size());
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto ms = parse_int(rest.substr(0, dot));
    const auto uuid = rest.substr(dot + 1);
    if (!ms || *ms < 0 || !model::is_uuid(uuid)) return std::nullopt;
    store::job_position at{*ms, std::string(uuid)};
    if (encode_cursor(at) != text) return std::nullopt;
    return at;
}

}  // namespace jobsd::server

// Per-type overrides are parsed when their key is read (so a mistake names it) and merged over
// the section's values only at the end, whatever order the file lists its keys in.
#include "server/lifecycle_config.hpp"

#include <boost/json/parse.hpp>

namespace jobsd::server {

namespace json = boost::json;

namespace {

// A whole number in [min, max] from member `key` of `o`, or the problem.
std::string whole(const json::object& o, std::string_view key, std::int64_t min, std::int64_t max,
                  std::optional<std::int64_t>& out) {
    const auto* v = o.if_contains(key);
    if (!v) return {};
    if (!v->is_int64() && !v->is_uint64()) return std::string(key) + " must be a whole number";
    const auto n = v->is_int64() ? v->get_int64() : static_cast<std::int64_t>(v->get_uint64());
    if (n < min || n > max)
        return std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max);
    out = n;
    return {};
}

std::string read_override(const json::object& o, type_lifecycle_override& t) {
    for (const auto& [key, value] : o)
        if (key != "max_attempts" && key != "retry_backoff_ms" && key != "retry_backoff_max_ms" &&
            key != "default_expires_in_s" && key != "stuck_after_s")
            return "unknown member " + std::string(key);
    std::optional<std::int64_t> n;
    if (auto p = whole(o, "max_attempts", 1, 100, n); !p.empty()) return p;
    if (n) t.max_attempts = static_cast<int>(*n);
    n.reset();
    if (auto p = whole(o, "retry_backoff_ms", 100, 86'400'000, n); !p.empty()) return p;
    if (n) t.retry_backoff = std::chrono::milliseconds(*n);
    n.reset();
    if (auto p = whole(o, "retry_backoff_max_ms", 100, 86'400'000, n); !p.empty()) return p;
    if (n) t.retry_backoff_max = std::chrono::milliseconds(*n);
    n.reset();
    if (auto p = whole(o, "default_expires_in_s", 0, 366 * 86'400, n); !p.empty()) return p;
    if (n) t.default_expires_in = std::chrono::seconds(*n);
    n.reset();
    if (auto p = whole(o, "stuck_after_s", 1, 366 * 86'400, n); !p.empty()) return p;
    if (n) t.stuck_after = std::chrono::seconds(*n);
    return {};
}

}  // namespace

std::string set_type_overrides(const json::value& v, lifecycle_options& out) {
    json::value parsed;
    const json::value* doc = &v;
    if (const auto* text = v.if_string()) {
        boost::system::error_code ec;
        parsed = json::parse(*text, ec);
        if (ec) return "must be a JSON object of job types";
        doc = &parsed;
    }
    const auto* types = doc->if_object();
    if (!types) return "must be an object of job types";
    std::array<type_lifecycle_override, model::all_job_types.size()> read{};
    for (const auto& [name, settings] : *types) {
        const auto type = model::parse_job_type(name);
        if (!type) return "\"" + std::string(name) + "\" is not a job type";
        const auto* o = settings.if_object();
        if (!o) return std::string(name) + " must be an object";
        if (auto p = read_override(*o, read[static_cast<std::size_t>(*type)]); !p.empty())
            return std::string(name) + "." + p;
    }
    out.types = read;
    return {};
}

std::optional<model::lifecycle_policy> resolve_lifecycle(const lifecycle_options& o, std::string& problem) {
    model::lifecycle_policy policy;
    policy.max_expires_in = o.max_expires_in;
    for (auto t : model::all_job_types) {
        const auto& over = o.types[static_cast<std::size_t>(t)];
        auto& p = policy.of(t);
        p = o.defaults;
        if (over.max_attempts) p.max_attempts = *over.max_attempts;
        if (over.retry_backoff) p.retry_backoff = *over.retry_backoff;
        if (over.retry_backoff_max) p.retry_backoff_max = *over.retry_backoff_max;
        if (over.default_expires_in)
            p.default_expires_in =
                over.default_expires_in->count() > 0 ? over.default_expires_in : std::nullopt;
        if (over.stuck_after) p.stuck_after = *over.stuck_after;
        const std::string name(model::to_string(t));
        if (p.retry_backoff_max < p.retry_backoff) {
            problem = "lifecycle: the retry backoff maximum of " + name + " is below its first backoff";
            return std::nullopt;
        }
        if (p.default_expires_in && *p.default_expires_in > policy.max_expires_in) {
            problem =
                "lifecycle: the default time to live of " + name + " is past lifecycle.max_expires_in_s";
            return std::nullopt;
        }
    }
    return policy;
}

}  // namespace jobsd::server

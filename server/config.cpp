// The configuration schema as a table of typed entries; the file, the environment and the
// flags all go through the same entry, so they are validated alike.
#include "server/config.hpp"

#include "server/management_client.hpp"
#include "server/webhooks/address_policy.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <vector>

namespace jobsd::server {

namespace json = boost::json;

namespace {

// One configurable value. `set` returns a problem text, or "" on success.
struct entry {
    std::string section;
    std::string key;
    std::string flag;  // "" when there is none
    std::function<std::string(const json::value&)> set;

    std::string name() const { return section + "." + key; }
    std::string env_name() const {
        std::string n = "JOBSD_" + section + "_" + key;
        for (auto& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return n;
    }
};

std::function<std::string(const json::value&)> string_setter(std::string& target) {
    return [&target](const json::value& v) -> std::string {
        if (!v.is_string()) return "must be a string";
        target = std::string(v.get_string());
        return {};
    };
}

template <class Int>
std::function<std::string(const json::value&)> uint_setter(Int& target, std::uint64_t min,
                                                           std::uint64_t max) {
    return [&target, min, max](const json::value& v) -> std::string {
        std::uint64_t n = 0;
        if (v.is_uint64())
            n = v.get_uint64();
        else if (v.is_int64() && v.get_int64() >= 0)
            n = static_cast<std::uint64_t>(v.get_int64());
        else
            return "must be a whole number >= 0";
        if (n < min || n > max)
            return "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                   std::to_string(n);
        target = static_cast<Int>(n);
        return {};
    };
}

template <class Duration>
std::function<std::string(const json::value&)> duration_setter(Duration& target, std::uint64_t min,
                                                               std::uint64_t max) {
    return [&target, min, max](const json::value& v) -> std::string {
        typename Duration::rep n{};
        auto problem = uint_setter(n, min, max)(v);
        if (problem.empty()) target = Duration{n};
        return problem;
    };
}

std::function<std::string(const json::value&)> number_setter(double& target, double min, double max) {
    return [&target, min, max](const json::value& v) -> std::string {
        if (!v.is_number()) return "must be a number";
        const double d = v.to_number<double>();
        if (d < min || d > max)
            return "must be between " + std::to_string(min) + " and " + std::to_string(max);
        target = d;
        return {};
    };
}

std::function<std::string(const json::value&)> bool_setter(bool& target) {
    return [&target](const json::value& v) -> std::string {
        if (!v.is_bool()) return "must be true or false";
        target = v.get_bool();
        return {};
    };
}

// A list of strings: a JSON array in the file, comma-separated text from the environment or a flag.
std::function<std::string(const json::value&)> strings_setter(std::vector<std::string>& target) {
    return [&target](const json::value& v) -> std::string {
        std::vector<std::string> out;
        if (const auto* s = v.if_string()) {
            std::string_view text = *s;
            while (!text.empty()) {
                const auto comma = text.find(',');
                if (auto item = text.substr(0, comma); !item.empty()) out.emplace_back(item);
                text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
            }
        } else if (const auto* a = v.if_array()) {
            for (const auto& item : *a) {
                if (!item.is_string()) return "must be a list of strings";
                out.emplace_back(item.get_string());
            }
        } else {
            return "must be a list of strings";
        }
        if (out.empty()) return "must not be empty";
        target = std::move(out);
        return {};
    };
}

// A list of durations in milliseconds: a JSON array of whole numbers, or comma-separated text.
std::function<std::string(const json::value&)> durations_setter(
    std::vector<std::chrono::milliseconds>& target) {
    return [&target](const json::value& v) -> std::string {
        std::vector<std::chrono::milliseconds> out;
        auto add = [&out](const json::value& item) -> bool {
            std::uint64_t n = 0;
            if (item.is_uint64())
                n = item.get_uint64();
            else if (item.is_int64() && item.get_int64() >= 0)
                n = static_cast<std::uint64_t>(item.get_int64());
            else
                return false;
            if (n > (1ull << 40)) return false;
            out.emplace_back(static_cast<std::int64_t>(n));
            return true;
        };
        if (const auto* a = v.if_array()) {
            for (const auto& item : *a)
                if (!add(item)) return "must be a list of whole numbers of milliseconds";
        } else if (const auto* s = v.if_string()) {
            std::string_view text = *s;
            while (!text.empty()) {
                const auto comma = text.find(',');
                boost::system::error_code ec;
                const auto item = json::parse(text.substr(0, comma), ec);
                if (ec || !add(item)) return "must be a list of whole numbers of milliseconds";
                text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
            }
        } else if (!v.is_number() || !add(v)) {
            return "must be a list of whole numbers of milliseconds";
        }
        target = std::move(out);
        return {};
    };
}

// declarative table: every setting, its JSON section and key, its flag and its bounds
std::vector<entry> schema(config& c) {
    constexpr std::uint64_t max_u32 = std::numeric_limits<std::uint32_t>::max();
    return {
        {"server", "listen", "--listen", string_setter(c.server.listen)},
        {"server", "port", "--port", uint_setter(c.server.port, 0, 65535)},
        {"server", "threads", "--threads", uint_setter(c.server.threads, 0, 256)},
        {"server", "body_limit", "", uint_setter(c.server.body_limit, 1024, 64ull << 20)},
        {"server", "batch_body_limit", "", uint_setter(c.server.batch_body_limit, 1024, 256ull << 20)},
        {"server", "control_body_limit", "", uint_setter(c.server.control_body_limit, 2, 1 << 20)},
        {"server", "batch_max_jobs", "", uint_setter(c.server.batch_max_jobs, 1, 100'000)},
        {"server", "list_max_bytes", "", uint_setter(c.server.list_max_bytes, 1024, 1ull << 30)},
        {"server", "header_limit", "", uint_setter(c.server.header_limit, 1024, 1 << 20)},
        {"server", "header_timeout_ms", "", duration_setter(c.server.header_timeout, 100, max_u32)},
        {"server", "read_timeout_ms", "", duration_setter(c.server.read_timeout, 100, max_u32)},
        {"server", "body_timeout_ms", "", duration_setter(c.server.body_timeout, 100, max_u32)},
        {"server", "linger_ms", "", duration_setter(c.server.linger_timeout, 0, 60'000)},
        {"server", "max_connections", "", uint_setter(c.server.max_connections, 1, 1'000'000)},
        {"server", "max_streams_per_account", "",
         uint_setter(c.server.max_streams_per_account, 1, 1'000'000)},
        {"server", "max_requests_per_connection", "",
         uint_setter(c.server.max_requests_per_connection, 1, max_u32)},
        {"server", "idle_timeout_ms", "", duration_setter(c.server.idle_timeout, 100, max_u32)},
        {"server", "rate_limit_per_second", "", number_setter(c.server.rate_limit_per_second, 0, 1e9)},
        {"server", "rate_limit_burst", "", number_setter(c.server.rate_limit_burst, 0, 1e9)},
        {"server", "max_outbox_backlog", "", uint_setter(c.server.max_outbox_backlog, 0, 1ull << 40)},
        {"server", "catalog_refresh_ms", "", duration_setter(c.server.catalog_refresh, 100, max_u32)},
        {"server", "shutdown_grace_ms", "", duration_setter(c.server.shutdown_grace, 0, max_u32)},
        {"server", "job_counts_refresh_ms", "", duration_setter(c.server.job_counts_refresh, 100, max_u32)},
        {"server", "dashboard_history_s", "", uint_setter(c.server.dashboard_history_s, 2, 86'400)},
        {"server", "dashboard_recent_jobs", "", uint_setter(c.server.dashboard_recent_jobs, 1, 1000)},
        {"store", "url", "--store", string_setter(c.store.url)},
        {"store", "batch_max", "", uint_setter(c.store.common.batch_max, 1, 1 << 20)},
        {"store", "batch_wait_us", "", duration_setter(c.store.sqlite.batch_wait, 0, 1'000'000)},
        {"store", "readers", "", uint_setter(c.store.sqlite.readers, 1, 64)},
        {"store", "inline_readers", "", uint_setter(c.store.sqlite.inline_readers, 0, 256)},
        {"store", "write_queue_max", "", uint_setter(c.store.common.write_queue_max, 1, 1 << 24)},
        {"store", "read_queue_max", "", uint_setter(c.store.common.read_queue_max, 1, 1 << 24)},
        {"store", "synchronous_full", "", bool_setter(c.store.sqlite.synchronous_full)},
        {"store", "busy_timeout_ms", "", duration_setter(c.store.sqlite.busy_timeout, 0, 600'000)},
        {"store", "pool_size", "", uint_setter(c.store.pg.pool_size, 1, 256)},
        {"store", "writers", "", uint_setter(c.store.pg.writers, 1, 255)},
        {"store", "connect_timeout_ms", "", duration_setter(c.store.pg.connect_timeout, 100, max_u32)},
        {"store", "query_timeout_ms", "", duration_setter(c.store.pg.query_timeout, 100, max_u32)},
        {"store", "claim_lease_ms", "", duration_setter(c.store.pg.claim_lease, 100, max_u32)},
        {"store", "instance_id", "", string_setter(c.store.pg.instance_id)},
        {"store", "idempotency_window_ms", "",
         duration_setter(c.store.common.idempotency_window, 1000, 1ull << 40)},
        {"amqp", "enabled", "", bool_setter(c.amqp.enabled)},
        {"amqp", "urls", "--amqp", strings_setter(c.amqp.urls)},
        {"amqp", "url_order", "",
         [&c](const json::value& v) -> std::string {
             const auto order = v.is_string() ? queue::parse_url_order(v.get_string()) : std::nullopt;
             if (!order) return "must be \"spread\" or \"in_order\"";
             c.amqp.url_order = *order;
             return {};
         }},
        {"amqp", "exchange", "", string_setter(c.amqp.exchange)},
        {"amqp", "queue_prefix", "", string_setter(c.amqp.queue_prefix)},
        {"amqp", "dead_exchange", "", string_setter(c.amqp.dead_exchange)},
        {"amqp", "dead_queue_prefix", "", string_setter(c.amqp.dead_queue_prefix)},
        {"amqp", "events_exchange", "", string_setter(c.amqp.events_exchange)},
        {"amqp", "queue_type", "", string_setter(c.amqp.queue_type)},
        {"amqp", "events_queue", "", string_setter(c.amqp.events_queue)},
        {"amqp", "status_exchange", "", string_setter(c.amqp.status_exchange)},
        {"amqp", "event_batch", "", uint_setter(c.amqp.event_batch, 1, 32767)},
        {"amqp", "event_batch_wait_ms", "", duration_setter(c.amqp.event_batch_wait, 0, 10'000)},
        {"amqp", "delivery_limit", "", uint_setter(c.amqp.delivery_limit, 1, 1000)},
        {"amqp", "job_types", "", strings_setter(c.amqp.job_types)},
        {"amqp", "confirm_window", "", uint_setter(c.amqp.confirm_window, 1, 65535)},
        {"amqp", "publish_queue_max", "", uint_setter(c.amqp.publish_queue_max, 1, 1 << 24)},
        {"amqp", "relay_batch", "", uint_setter(c.amqp.relay_batch, 1, 100'000)},
        {"amqp", "relay_interval_ms", "", duration_setter(c.amqp.relay_interval, 100, max_u32)},
        {"amqp", "retry_delay_ms", "", duration_setter(c.amqp.retry_delay, 0, max_u32)},
        {"amqp", "type_pause_max_ms", "", duration_setter(c.amqp.type_pause_max, 1, max_u32)},
        {"amqp", "send_timeout_ms", "", duration_setter(c.amqp.send_timeout, 100, max_u32)},
        {"amqp", "reconnect_min_ms", "", duration_setter(c.amqp.reconnect_min, 10, max_u32)},
        {"amqp", "reconnect_max_ms", "", duration_setter(c.amqp.reconnect_max, 10, max_u32)},
        {"amqp", "connect_timeout_ms", "", duration_setter(c.amqp.connect_timeout, 100, max_u32)},
        {"amqp", "heartbeat_s", "", uint_setter(c.amqp.heartbeat_s, 0, 3600)},
        {"amqp", "management_url", "", string_setter(c.amqp.management_url)},
        {"amqp", "management_timeout_ms", "", duration_setter(c.amqp.management_timeout, 100, 60'000)},
        {"amqp", "queue_view_cache_ms", "", duration_setter(c.amqp.queue_view_cache, 0, 60'000)},
        {"amqp", "control_exchange", "", string_setter(c.amqp.control_exchange)},
        {"amqp", "control_queue_prefix", "", string_setter(c.amqp.control_queue_prefix)},
        {"amqp", "control_retention_s", "", duration_setter(c.amqp.control_retention, 60, 30 * 86'400)},
        {"amqp", "control_batch", "", uint_setter(c.amqp.control_batch, 1, 10'000)},
        {"amqp", "control_poll_interval_ms", "", duration_setter(c.amqp.control_poll_interval, 10, max_u32)},
        {"lifecycle", "sweep_interval_ms", "", duration_setter(c.lifecycle.sweep_interval, 10, 3'600'000)},
        {"lifecycle", "sweep_batch", "", uint_setter(c.lifecycle.sweep_batch, 1, 100'000)},
        {"lifecycle", "unconsumed_expiry_after_ms", "",
         duration_setter(c.lifecycle.unconsumed_expiry_after, 0, 3'600'000)},
        {"lifecycle", "stuck_refresh_ms", "", duration_setter(c.lifecycle.stuck_refresh, 100, max_u32)},
        {"lifecycle", "max_attempts", "", uint_setter(c.lifecycle.defaults.max_attempts, 1, 100)},
        {"lifecycle", "retry_backoff_ms", "",
         duration_setter(c.lifecycle.defaults.retry_backoff, 100, 86'400'000)},
        {"lifecycle", "retry_backoff_max_ms", "",
         duration_setter(c.lifecycle.defaults.retry_backoff_max, 100, 86'400'000)},
        {"lifecycle", "default_expires_in_s", "",
         [&c](const json::value& v) -> std::string {
             std::chrono::seconds s{};
             auto problem = duration_setter(s, 0, 366 * 86'400)(v);
             if (problem.empty())
                 c.lifecycle.defaults.default_expires_in = s.count() > 0 ? std::optional(s) : std::nullopt;
             return problem;
         }},
        {"lifecycle", "max_expires_in_s", "", duration_setter(c.lifecycle.max_expires_in, 1, 366 * 86'400)},
        {"lifecycle", "fair_window", "", uint_setter(c.lifecycle.fair_window, 0, 10'000'000)},
        {"lifecycle", "fair_interval_ms", "", duration_setter(c.lifecycle.fair_interval, 5, 60'000)},
        {"lifecycle", "stuck_after_s", "",
         duration_setter(c.lifecycle.defaults.stuck_after, 1, 366 * 86'400)},
        {"lifecycle", "types", "", [&c](const json::value& v) { return set_type_overrides(v, c.lifecycle); }},
        {"seed", "file", "--seed", string_setter(c.seed_file)},
        {"log", "level", "--log-level", string_setter(c.log.level)},
        {"log", "format", "--log-format", string_setter(c.log.format)},
        {"tls", "enabled", "--tls", bool_setter(c.tls.enabled)},
        {"tls", "certificate_file", "--tls-certificate", string_setter(c.tls.certificate_file)},
        {"tls", "private_key_file", "--tls-private-key", string_setter(c.tls.private_key_file)},
        {"tls", "min_version", "", string_setter(c.tls.min_version)},
        {"tls", "handshake_timeout_ms", "", duration_setter(c.tls.handshake_timeout, 100, 60'000)},
        {"webhooks", "enabled", "", bool_setter(c.webhooks.enabled)},
        {"webhooks", "allow", "", strings_setter(c.webhooks.allow)},
        {"webhooks", "threads", "", uint_setter(c.webhooks.threads, 1, 64)},
        {"webhooks", "nice", "", uint_setter(c.webhooks.nice, 0, 19)},
        {"webhooks", "max_in_flight", "", uint_setter(c.webhooks.max_in_flight, 1, 100'000)},
        {"webhooks", "per_endpoint", "", uint_setter(c.webhooks.per_endpoint, 1, 10'000)},
        {"webhooks", "connect_timeout_ms", "", duration_setter(c.webhooks.connect_timeout, 100, 600'000)},
        {"webhooks", "tls_timeout_ms", "", duration_setter(c.webhooks.tls_timeout, 100, 600'000)},
        {"webhooks", "answer_timeout_ms", "", duration_setter(c.webhooks.answer_timeout, 100, 600'000)},
        {"webhooks", "response_max", "", uint_setter(c.webhooks.response_max, 1024, 64ull << 20)},
        {"webhooks", "retry_schedule_ms", "", durations_setter(c.webhooks.retry_schedule)},
        {"webhooks", "retry_jitter", "", number_setter(c.webhooks.retry_jitter, 0, 1)},
        {"webhooks", "poll_interval_ms", "", duration_setter(c.webhooks.poll_interval, 10, 600'000)},
        {"webhooks", "yield_writes", "", uint_setter(c.webhooks.yield_writes, 0, 1'000'000)},
        {"webhooks", "claim_batch", "", uint_setter(c.webhooks.claim_batch, 1, 10'000)},
        {"webhooks", "claim_lease_ms", "", duration_setter(c.webhooks.claim_lease, 1000, max_u32)},
        {"webhooks", "secret_overlap_ms", "", duration_setter(c.webhooks.secret_overlap, 0, 1ull << 40)},
        {"webhooks", "idle_timeout_ms", "", duration_setter(c.webhooks.idle_timeout, 0, 3'600'000)},
        {"webhooks", "idle_per_destination", "", uint_setter(c.webhooks.idle_per_destination, 0, 1000)},
        {"webhooks", "ca_file", "", string_setter(c.webhooks.ca_file)},
    };
}

// Text from the environment or a flag: JSON when it parses as a number or boolean, else a string.
json::value text_value(const std::string& text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (!ec && (v.is_number() || v.is_bool())) return v;
    return json::value(text);
}

json::object read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw config_error("config file " + path + ": cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    json::parse_options opts;
    opts.allow_comments = true;
    opts.allow_trailing_commas = true;
    boost::system::error_code ec;
    json::value doc = json::parse(text.str(), ec, {}, opts);
    if (ec) throw config_error("config file " + path + ": not valid JSON: " + ec.message());
    if (!doc.is_object()) throw config_error("config file " + path + ": must be a JSON object");
    return std::move(doc.get_object());
}

// Settings each valid alone that together would break a promise: jobs accepted with a 201 that
// no queue takes, or outbox claims that lapse while their holder still publishes them.
void check_promises(const config& c) {
    if (!c.amqp.enabled) return;
    std::string missing;
    for (auto t : model::all_job_types) {
        const auto name = std::string(model::to_string(t));
        if (std::find(c.amqp.job_types.begin(), c.amqp.job_types.end(), name) == c.amqp.job_types.end())
            missing += (missing.empty() ? "" : ", ") + name;
    }
    if (!missing.empty())
        throw config_error("amqp.job_types lacks " + missing +
                           ": jobs of every type are accepted, and these would get a 201 and no queue; list "
                           "every job type");
    if (c.store.shared() && c.store.pg.claim_lease <= c.amqp.relay_interval)
        throw config_error("store.claim_lease_ms (" + std::to_string(c.store.pg.claim_lease.count()) +
                           ") must be longer than amqp.relay_interval_ms (" +
                           std::to_string(c.amqp.relay_interval.count()) +
                           "): claims are renewed every half relay interval, and a lapsed claim lets another "
                           "jobsd publish the same jobs");
}

void apply(const entry& e, const json::value& v, const std::string& source) {
    if (auto problem = e.set(v); !problem.empty())
        throw config_error(source + ": " + e.name() + " " + problem);
}

// Text from the environment or a flag: a number or boolean when the key takes one, otherwise
// the text itself (so a file named "2024" is still a file name).
void apply_text(const entry& e, const std::string& text, const std::string& source) {
    const json::value v = text_value(text);
    if (!v.is_string() && e.set(json::value(text)).empty()) return;
    apply(e, v, source);
}

// The webhooks section as a whole: an allow-list that parses, and a claim that outlives an attempt.
void check_webhooks(const webhooks::webhook_options& w) {
    if (auto policy = webhooks::address_policy::make(w.allow); !policy) throw config_error(policy.error());
    if (w.claim_lease <= w.connect_timeout + w.tls_timeout + w.answer_timeout)
        throw config_error(
            "webhooks.claim_lease_ms must exceed connect_timeout_ms + tls_timeout_ms + answer_timeout_ms, "
            "or a delivery still in flight could be claimed and sent again by another instance");
}

// The per-type lifecycle policy the store applies, from the lifecycle section.
void resolve_lifecycle_policy(config& c) {
    std::string problem;
    auto policy = resolve_lifecycle(c.lifecycle, problem);
    if (!policy) throw config_error(problem);
    c.store.common.lifecycle = *policy;
}

}  // namespace

config load_config(int argc, const char* const* argv, bool& help) {
    config c;
    auto entries = schema(c);
    help = false;

    std::string config_path;
    std::vector<std::pair<const entry*, std::string>> flags;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            help = true;
            return c;
        }
        auto eq = arg.find('=');
        const std::string name = arg.substr(0, eq);
        auto value = [&]() -> std::string {
            if (eq != std::string::npos) return arg.substr(eq + 1);
            if (i + 1 >= argc) throw config_error("flag " + name + " needs a value");
            return argv[++i];
        };
        if (name == "--config") {
            config_path = value();
            continue;
        }
        const entry* match = nullptr;
        for (const auto& e : entries)
            if (!e.flag.empty() && e.flag == name) match = &e;
        if (!match) throw config_error("unknown flag " + name + " (see --help)");
        flags.emplace_back(match, value());
    }

    if (!config_path.empty()) {
        const json::object file = read_file(config_path);
        const std::string source = "config file " + config_path;
        for (const auto& [section, body] : file) {
            const auto* members = body.if_object();
            if (!members) throw config_error(source + ": " + std::string(section) + " must be an object");
            for (const auto& [key, value] : *members) {
                const std::string name = std::string(section) + "." + std::string(key);
                const entry* match = nullptr;
                for (const auto& e : entries)
                    if (e.name() == name) match = &e;
                if (!match) throw config_error(source + ": unknown key " + name);
                apply(*match, value, source);
            }
        }
    }
    for (const auto& e : entries)
        if (const char* env = std::getenv(e.env_name().c_str()))
            apply_text(e, env, "environment " + e.env_name());
    for (const auto& [e, text] : flags) apply_text(*e, text, "flag " + e->flag);

    if (c.server.listen.empty()) throw config_error("server.listen must not be empty");
    if (c.amqp.queue_type != "quorum" && c.amqp.queue_type != "classic")
        throw config_error("amqp.queue_type must be \"quorum\" or \"classic\", got \"" + c.amqp.queue_type +
                           "\"");
    for (const auto& t : c.amqp.job_types)
        if (!model::parse_job_type(t)) throw config_error("amqp.job_types: \"" + t + "\" is not a job type");
    for (const auto& u : c.amqp.urls)
        if (!u.starts_with("amqp://")) throw config_error("amqp.urls: \"" + u + "\" is not an amqp:// URL");
    if (c.amqp.reconnect_max < c.amqp.reconnect_min)
        throw config_error("amqp.reconnect_max_ms must not be below amqp.reconnect_min_ms");
    if (c.tls.min_version != "1.2" && c.tls.min_version != "1.3")
        throw config_error("tls.min_version must be \"1.2\" or \"1.3\", got \"" + c.tls.min_version + "\"");
    if (c.tls.enabled && c.tls.certificate_file.empty())
        throw config_error("tls.certificate_file must be set when tls.enabled is true");
    if (c.tls.enabled && c.tls.private_key_file.empty())
        throw config_error("tls.private_key_file must be set when tls.enabled is true");
    check_webhooks(c.webhooks);
    resolve_lifecycle_policy(c);
    if (!c.amqp.management_url.empty()) {
        auto endpoint =
            parse_management_url(c.amqp.management_url, c.amqp.urls.empty() ? "" : c.amqp.urls.front());
        if (!endpoint) throw config_error(endpoint.error());
    }
    check_promises(c);
    return c;
}

std::string config_usage() {
    return "usage: jobsd [--config FILE] [--listen ADDR] [--port N] [--threads N] [--store URL]\n"
           "             [--amqp URL[,URL...]] [--seed FILE] [--log-level LEVEL]\n"
           "             [--tls true|false] [--tls-certificate FILE] [--tls-private-key FILE]\n"
           "Every key of the config file can also be set as JOBSD_<SECTION>_<KEY>, e.g. JOBSD_SERVER_PORT.\n";
}

}  // namespace jobsd::server

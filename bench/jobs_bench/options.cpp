// Every numeric flag is range-checked here, so a typo stops the program before any load starts.
#include "bench/jobs_bench/options.hpp"

#include <charconv>
#include <cmath>

namespace jobsd::bench {

const char* usage_text() {
    return "usage: jobs-bench [options] [http://HOST:PORT]\n"
           "load:\n"
           "  -c N             keep-alive connections (64)\n"
           "  -t N             threads (2)\n"
           "  -d S             seconds of load (10)\n"
           "  -R N             open loop at N req/s in total, latency from intended send (default: closed "
           "loop)\n"
           "  --scenario S     create | get | bad-key | idle (create)\n"
           "  --payload FILE   payload mix (conf/bench/mix.json)\n"
           "  --key KEY        API key (the payload file's, else the demo seed's)\n"
           "  --project ID     template_id for every body that has one\n"
           "  --prompt ID      project_id (image prompt) of ai_image_generation bodies\n"
           "  --get-pool N     jobs created before a get run (1000)\n"
           "  --timeout MS     per request (5000)\n"
           "  --hold S         idle: seconds the connections are held once open (10)\n"
           "  --grace S        for answers in flight after -d (5)\n"
           "end to end:\n"
           "  --e2e            consume the jobs from the broker: loss, duplicates, accept->deliver latency\n"
           "  --amqp URL       broker (amqp://guest:guest@127.0.0.1:5673/)\n"
           "  --exchange NAME  jobsd's job exchange (jobs)\n"
           "  --e2e-grace S    wait for deliveries after the load (10)\n"
           "  --webhook-receiver  every job's `webhook` is a built-in receiver; reports deliveries/s\n"
           "                   (jobs must reach a terminal status: run workers; jobsd must allow 127.0.0.1)\n"
           "calibration:\n"
           "  --calibrate      also measure a built-in 201 server and the broker's confirmed-publish rate\n"
           "  --calibrate-http only the built-in 201 server (no broker needed)\n"
           "  --calibrate-threads N  the built-in server's io threads (1)\n"
           "  --queue-type T   quorum | classic, for the broker measurement (quorum)\n"
           "output:\n"
           "  --json FILE      result as JSON\n"
           "  --html FILE      self-contained HTML report\n"
           "  --accepted FILE  the uuid of every 201, one a line\n"
           "  --quiet          no progress line\n"
           "  --watch-pid NAME=PID[,PID...]  CPU of that process (or the sum of those) during the run,\n"
           "                   per request (repeatable)\n"
           "thresholds (exit code 1 when missed):\n"
           "  --max-p99 MS  --max-p999 MS  --min-rps N  --max-loss N\n"
           "  --min-http-fraction F    jobsd's req/s over the HTTP ceiling (needs --calibrate*)\n"
           "  --min-broker-fraction F  jobsd's accepted-and-delivered jobs/s (with --e2e) over the\n"
           "                           broker's confirmed-publish rate (needs --calibrate)\n";
}

namespace {

bool to_double(const std::string& s, double& out) {
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end && std::isfinite(out);
}

// http://HOST[:PORT][/...]
bool parse_url(const std::string& url, std::string& host, std::string& port) {
    std::string_view u = url;
    if (!u.starts_with("http://")) return false;
    u.remove_prefix(7);
    u = u.substr(0, u.find('/'));
    if (u.empty()) return false;
    const auto colon = u.rfind(':');
    if (colon == std::string_view::npos) {
        host = std::string(u);
        port = "80";
        return true;
    }
    host = std::string(u.substr(0, colon));
    port = std::string(u.substr(colon + 1));
    double p = 0;
    return !host.empty() && to_double(port, p) && p >= 1 && p <= 65535 && p == std::floor(p);
}

// wrk-style attached values (-c64, -d10s) become two arguments; a trailing "s" on -d is seconds.
std::vector<std::string> split_attached(const std::vector<std::string>& raw) {
    std::vector<std::string> args;
    for (const auto& a : raw) {
        if (a.size() > 2 && a[0] == '-' && std::string_view("ctdR").find(a[1]) != std::string_view::npos) {
            args.push_back(a.substr(0, 2));
            args.push_back(a.substr(2));
        } else {
            args.push_back(a);
        }
        if (args.size() >= 2 && args[args.size() - 2] == "-d" && args.back().ends_with('s'))
            args.back().pop_back();
    }
    return args;
}

struct number_flag {
    std::string_view name;
    double lo, hi;
    void (*set)(options&, double);
};

// declarative table
const std::vector<number_flag>& number_flags() {
    static const std::vector<number_flag> flags = {
        {"-c", 1, 10000, [](options& o, double d) { o.connections = static_cast<unsigned>(d); }},
        {"-t", 1, 64, [](options& o, double d) { o.threads = static_cast<unsigned>(d); }},
        {"--calibrate-threads", 1, 64,
         [](options& o, double d) { o.calibrate_threads = static_cast<unsigned>(d); }},
        {"-d", 0.1, 86400, [](options& o, double d) { o.duration_s = d; }},
        {"-R", 0.001, 10'000'000, [](options& o, double d) { o.rate = d; }},
        {"--timeout", 1, 600'000,
         [](options& o, double d) { o.timeout = std::chrono::milliseconds(static_cast<long>(d)); }},
        {"--grace", 0, 600, [](options& o, double d) { o.grace_s = d; }},
        {"--e2e-grace", 0, 3600, [](options& o, double d) { o.e2e_grace_s = d; }},
        {"--get-pool", 1, 1'000'000,
         [](options& o, double d) { o.get_pool = static_cast<std::uint64_t>(d); }},
        {"--hold", 0, 86400, [](options& o, double d) { o.hold_s = d; }},
        {"--max-p999", 0, 1e9, [](options& o, double d) { o.limits.max_p999_ms = d; }},
        {"--min-http-fraction", 0, 100, [](options& o, double d) { o.limits.min_http_fraction = d; }},
        {"--min-broker-fraction", 0, 100, [](options& o, double d) { o.limits.min_broker_fraction = d; }},
        {"--max-p99", 0, 1e9, [](options& o, double d) { o.limits.max_p99_ms = d; }},
        {"--min-rps", 0, 1e9, [](options& o, double d) { o.limits.min_rps = d; }},
        {"--max-loss", 0, 1e15,
         [](options& o, double d) { o.limits.max_loss = static_cast<std::uint64_t>(d); }},
    };
    return flags;
}

// NAME=PID[,PID...]; no pids mark a value that is not that shape (check_combinations refuses it).
watched_process parse_watch(const std::string& v) {
    const auto eq = v.rfind('=');
    if (eq == std::string::npos || eq == 0) return {v, {}};
    watched_process w{v.substr(0, eq), {}};
    std::string_view rest = std::string_view(v).substr(eq + 1);
    for (;;) {
        const auto comma = rest.find(',');
        double pid = 0;
        if (!to_double(std::string(rest.substr(0, comma)), pid) || pid < 1 || pid > 4194304 ||
            pid != std::floor(pid))
            return {v, {}};
        w.pids.push_back(static_cast<long>(pid));
        if (comma == std::string_view::npos) return w;
        rest.remove_prefix(comma + 1);
    }
}

struct text_flag {
    std::string_view name;
    void (*set)(options&, const std::string&);
};

// declarative table
const std::vector<text_flag>& text_flags() {
    static const std::vector<text_flag> flags = {
        {"--scenario", [](options& o, const std::string& v) { o.scenario = v; }},
        {"--payload", [](options& o, const std::string& v) { o.payload_file = v; }},
        {"--key", [](options& o, const std::string& v) { o.api_key = v; }},
        {"--project", [](options& o, const std::string& v) { o.template_id = v; }},
        {"--prompt", [](options& o, const std::string& v) { o.prompt_id = v; }},
        {"--amqp", [](options& o, const std::string& v) { o.amqp_url = v; }},
        {"--exchange", [](options& o, const std::string& v) { o.exchange = v; }},
        {"--json", [](options& o, const std::string& v) { o.json_file = v; }},
        {"--html", [](options& o, const std::string& v) { o.html_file = v; }},
        {"--queue-type", [](options& o, const std::string& v) { o.queue_type = v; }},
        {"--accepted", [](options& o, const std::string& v) { o.accepted_file = v; }},
        {"--watch-pid", [](options& o, const std::string& v) { o.watch.push_back(parse_watch(v)); }},
    };
    return flags;
}

// Switches without a value; false for an argument that is none of them.
bool apply_switch(options& o, std::string_view a) {
    if (a == "--e2e")
        o.e2e = true;
    else if (a == "--webhook-receiver")
        o.webhook_receiver = true;
    else if (a == "--calibrate")
        o.calibrate = true;
    else if (a == "--calibrate-http")
        o.calibrate = true, o.calibrate_broker = false;
    else if (a == "--quiet" || a == "-q")
        o.progress = false;
    else
        return false;
    return true;
}

// Options that only make sense together.
std::optional<parse_error> check_combinations(const options& o) {
    if (o.scenario != "create" && o.scenario != "get" && o.scenario != "bad-key" && o.scenario != "idle")
        return parse_error{"--scenario must be create, get, bad-key or idle, not \"" + o.scenario + "\""};
    if (o.scenario == "idle" && (o.calibrate || o.limits.any()))
        return parse_error{
            "--scenario idle takes no calibration and no thresholds (it measures the server's memory)"};
    if (o.queue_type != "quorum" && o.queue_type != "classic")
        return parse_error{"--queue-type must be quorum or classic"};
    if (o.e2e && o.scenario != "create")
        return parse_error{"--e2e needs --scenario create (only created jobs are published)"};
    if (o.webhook_receiver && o.scenario != "create")
        return parse_error{"--webhook-receiver needs --scenario create"};
    if (o.limits.max_loss && !o.e2e) return parse_error{"--max-loss needs --e2e"};
    if (!o.accepted_file.empty() && o.scenario != "create")
        return parse_error{"--accepted needs --scenario create (only created jobs have a uuid)"};
    for (const auto& w : o.watch)
        if (w.pids.empty()) return parse_error{"--watch-pid takes NAME=PID[,PID...], not \"" + w.name + "\""};
    if (o.scenario == "idle" && !o.watch.empty())
        return parse_error{"--watch-pid needs a load run (the idle scenario has no requests to divide by)"};
    if (o.limits.min_http_fraction && !o.calibrate)
        return parse_error{"--min-http-fraction needs --calibrate or --calibrate-http"};
    if (o.limits.min_broker_fraction && !(o.calibrate && o.calibrate_broker))
        return parse_error{"--min-broker-fraction needs --calibrate"};
    return std::nullopt;
}

// One argument (and its value, taken from `args` at `i`); an error, or nullopt once applied.
std::optional<parse_error> apply_argument(options& o, const std::vector<std::string>& args, std::size_t& i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return parse_error{usage_text(), true};
    if (apply_switch(o, a)) return std::nullopt;
    const bool has_value = i + 1 < args.size();
    for (const auto& f : number_flags()) {
        if (a != f.name) continue;
        if (!has_value) return parse_error{a + " needs a value"};
        const std::string& value = args[++i];
        double d = 0;
        if (!to_double(value, d) || d < f.lo || d > f.hi)
            return parse_error{a + " must be a number from " + std::to_string(f.lo) + " to " +
                               std::to_string(f.hi) + ", not \"" + value + "\""};
        f.set(o, d);
        return std::nullopt;
    }
    if (a == "--url" || !a.starts_with("-")) {
        if (a == "--url" && (!has_value || args[i + 1].empty())) return parse_error{a + " needs a value"};
        const std::string& url = a == "--url" ? args[++i] : a;
        if (!parse_url(url, o.host, o.port)) return parse_error{"not an http://HOST:PORT URL: " + url};
        return std::nullopt;
    }
    for (const auto& f : text_flags()) {
        if (a != f.name) continue;
        if (!has_value || args[i + 1].empty()) return parse_error{a + " needs a value"};
        f.set(o, args[++i]);
        return std::nullopt;
    }
    return parse_error{"unknown option " + a + "\n" + usage_text()};
}

}  // namespace

std::variant<options, parse_error> parse_options(const std::vector<std::string>& raw) {
    const auto args = split_attached(raw);
    options o;
    for (std::size_t i = 0; i < args.size(); ++i)
        if (auto err = apply_argument(o, args, i)) return *err;
    if (auto err = check_combinations(o)) return *err;
    return o;
}

}  // namespace jobsd::bench

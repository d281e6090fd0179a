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
           "  --queue-type T   quorum | classic, for the broker measurement (quorum)\n"
           "output:\n"
           "  --json FILE      result as JSON\n"
           "  --html FILE      self-contained HTML report\n"
           "  --accepted FILE  the uuid of every 201, one a line\n"
           "  --quiet          no progress line\n"
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

}  // namespace

std::variant<options, parse_error> parse_options(const std::vector<std::string>& raw) {
    // wrk-style attached values (-c64, -d10s) become two arguments; a trailing "s" on -d is seconds.
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
    options o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        std::string value;
        auto next = [&]() -> bool {
            if (i + 1 >= args.size()) return false;
            value = args[++i];
            return true;
        };
        auto number = [&](double lo, double hi, double& out) -> std::optional<parse_error> {
            if (!next()) return parse_error{a + " needs a value"};
            if (!to_double(value, out) || out < lo || out > hi)
                return parse_error{a + " must be a number from " + std::to_string(lo) + " to " +
                                   std::to_string(hi) + ", not \"" + value + "\""};
            return std::nullopt;
        };
        double d = 0;
        std::optional<parse_error> err;
        if (a == "-h" || a == "--help")
            return parse_error{usage_text(), true};
        else if (a == "-c") {
            if (!(err = number(1, 10000, d))) o.connections = static_cast<unsigned>(d);
        } else if (a == "-t") {
            if (!(err = number(1, 64, d))) o.threads = static_cast<unsigned>(d);
        } else if (a == "-d") {
            if (!(err = number(0.1, 86400, d))) o.duration_s = d;
        } else if (a == "-R") {
            if (!(err = number(0.001, 10'000'000, d))) o.rate = d;
        } else if (a == "--timeout") {
            if (!(err = number(1, 600'000, d))) o.timeout = std::chrono::milliseconds(static_cast<long>(d));
        } else if (a == "--grace") {
            if (!(err = number(0, 600, d))) o.grace_s = d;
        } else if (a == "--e2e-grace") {
            if (!(err = number(0, 3600, d))) o.e2e_grace_s = d;
        } else if (a == "--get-pool") {
            if (!(err = number(1, 1'000'000, d))) o.get_pool = static_cast<std::uint64_t>(d);
        } else if (a == "--hold") {
            if (!(err = number(0, 86400, d))) o.hold_s = d;
        } else if (a == "--max-p999") {
            if (!(err = number(0, 1e9, d))) o.limits.max_p999_ms = d;
        } else if (a == "--min-http-fraction") {
            if (!(err = number(0, 100, d))) o.limits.min_http_fraction = d;
        } else if (a == "--min-broker-fraction") {
            if (!(err = number(0, 100, d))) o.limits.min_broker_fraction = d;
        } else if (a == "--max-p99") {
            if (!(err = number(0, 1e9, d))) o.limits.max_p99_ms = d;
        } else if (a == "--min-rps") {
            if (!(err = number(0, 1e9, d))) o.limits.min_rps = d;
        } else if (a == "--max-loss") {
            if (!(err = number(0, 1e15, d))) o.limits.max_loss = static_cast<std::uint64_t>(d);
        } else if (a == "--e2e")
            o.e2e = true;
        else if (a == "--webhook-receiver")
            o.webhook_receiver = true;
        else if (a == "--calibrate")
            o.calibrate = true;
        else if (a == "--calibrate-http")
            o.calibrate = true, o.calibrate_broker = false;
        else if (a == "--quiet" || a == "-q")
            o.progress = false;
        else if (a == "--scenario" || a == "--payload" || a == "--key" || a == "--project" ||
                 a == "--prompt" || a == "--amqp" || a == "--exchange" || a == "--json" || a == "--html" ||
                 a == "--queue-type" || a == "--url" || a == "--accepted") {
            if (!next() || value.empty()) return parse_error{a + " needs a value"};
            if (a == "--scenario")
                o.scenario = value;
            else if (a == "--payload")
                o.payload_file = value;
            else if (a == "--key")
                o.api_key = value;
            else if (a == "--project")
                o.template_id = value;
            else if (a == "--prompt")
                o.prompt_id = value;
            else if (a == "--amqp")
                o.amqp_url = value;
            else if (a == "--exchange")
                o.exchange = value;
            else if (a == "--json")
                o.json_file = value;
            else if (a == "--html")
                o.html_file = value;
            else if (a == "--queue-type")
                o.queue_type = value;
            else if (a == "--accepted")
                o.accepted_file = value;
            else if (!parse_url(value, o.host, o.port))
                return parse_error{"not an http://HOST:PORT URL: " + value};
        } else if (!a.starts_with("-")) {
            if (!parse_url(a, o.host, o.port)) return parse_error{"not an http://HOST:PORT URL: " + a};
        } else {
            return parse_error{"unknown option " + a + "\n" + usage_text()};
        }
        if (err) return *err;
    }
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
    if (o.limits.min_http_fraction && !o.calibrate)
        return parse_error{"--min-http-fraction needs --calibrate or --calibrate-http"};
    if (o.limits.min_broker_fraction && !(o.calibrate && o.calibrate_broker))
        return parse_error{"--min-broker-fraction needs --calibrate"};
    return o;
}

}  // namespace jobsd::bench

// One table of flags drives both sources: JOBS_WORKER_<FLAG> is the flag upper-cased with '-'
// turned into '_'. Values are validated as they are applied, the cross-field rules at the end.
#include "worker/worker_options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

#include "model/job_type.hpp"
#include "worker/handlers.hpp"

namespace jobsd::worker {

namespace {

// Applies a value; returns an error text, empty when fine.
using apply_fn = std::string (*)(worker_options&, const std::string&);

struct flag {
    const char* name;  // without the leading "--"
    const char* arg;   // placeholder in the help text
    const char* help;
    apply_fn apply;
};

template <class T>
std::optional<T> to_number(const std::string& s) {
    T v{};
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, v);
    if (ec != std::errc() || p != end || s.empty()) return std::nullopt;
    return v;
}

std::string unsigned_in(const std::string& s, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    auto v = to_number<std::uint64_t>(s);
    if (!v || *v < lo || *v > hi)
        return "expects a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" +
               s + "'";
    out = *v;
    return {};
}

std::string set_ms(const std::string& s, std::uint64_t lo, std::chrono::milliseconds& out) {
    std::uint64_t v = 0;
    auto e = unsigned_in(s, lo, 7ull * 24 * 3600 * 1000, v);
    if (e.empty()) out = std::chrono::milliseconds(v);
    return e;
}

std::string set_text(const std::string& s, std::string& out) {
    if (s.empty()) return "expects a non-empty value";
    out = s;
    return {};
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        std::string part = s.substr(start, comma - start);
        part.erase(0, part.find_first_not_of(" \t"));
        part.erase(part.find_last_not_of(" \t") + 1);
        if (!part.empty()) out.push_back(std::move(part));
        start = comma + 1;
    }
    return out;
}

// declarative table
const std::vector<flag>& flags() {
    static const std::vector<flag> table = {
        {"type", "TYPE",
         "job type to serve (required): ai_talking_video, video, tts, image, photo_qc, pdf, "
         "ai_image_generation",
         [](worker_options& o, const std::string& v) -> std::string {
             if (!model::parse_job_type(v))
                 return "expects one of ai_talking_video, video, tts, image, photo_qc, pdf, "
                        "ai_image_generation, got '" +
                        v + "'";
             o.job_type = v;
             return {};
         }},
        {"concurrency", "N", "jobs run at once, and the consumer prefetch unless --prefetch (default 4)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 1, 1024, n);
             o.concurrency = static_cast<unsigned>(n);
             return e;
         }},
        {"prefetch", "N", "deliveries held at once, 0: the concurrency (default 0; more suits short jobs)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 0, 65535, n);
             o.prefetch = static_cast<unsigned>(n);
             return e;
         }},
        {"url", "URL", "broker URL, repeatable or comma list (default amqp://guest:guest@127.0.0.1:5673/)",
         [](worker_options& o, const std::string& v) -> std::string {
             auto urls = split_commas(v);
             if (urls.empty()) return "expects at least one amqp:// URL";
             for (const auto& u : urls)
                 if (u.rfind("amqp://", 0) != 0) return "expects amqp:// URLs, got '" + u + "'";
             o.amqp.urls.insert(o.amqp.urls.end(), urls.begin(), urls.end());
             return {};
         }},
        {"url-order", "spread|in_order",
         "first URL tried: a random one (spread, default) or the first (in_order); then each in turn",
         [](worker_options& o, const std::string& v) -> std::string {
             const auto order = queue::parse_url_order(v);
             if (!order) return "expects spread or in_order, got '" + v + "'";
             o.amqp.url_order = *order;
             return {};
         }},
        {"exchange", "NAME", "exchange jobs are published to (default jobs)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.exchange); }},
        {"queue-prefix", "PREFIX", "job queues are <prefix><type> (default jobs.)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.queue_prefix); }},
        {"dead-exchange", "NAME", "dead-letter exchange (default jobs.dead)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.dead_exchange); }},
        {"dead-queue-prefix", "PREFIX", "dead-letter queues are <prefix><type> (default jobs.dead.)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.dead_queue_prefix); }},
        {"events-exchange", "NAME", "topic exchange for status events (default jobs.events)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.events_exchange); }},
        {"events-queue", "NAME",
         "jobsd's queue of status events, declared with the topology (default jobsd.events)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.events_queue); }},
        {"control-exchange", "NAME", "topic exchange of control messages (default jobs.control)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.control_exchange); }},
        {"control-queue-prefix", "PREFIX", "control streams are <prefix><type> (default jobs.control.)",
         [](worker_options& o, const std::string& v) { return set_text(v, o.amqp.control_queue_prefix); }},
        {"control-retention-s", "S",
         "control stream retention, and how far back cancels are read at connect; must match jobsd's "
         "(default "
         "3600)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 60, 30 * 86'400, n);
             o.amqp.control_retention = std::chrono::seconds(n);
             return e;
         }},
        {"cancel-memory", "N", "cancels remembered for jobs not held here (default 100000)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 1, 10'000'000, n);
             o.cancel_memory = static_cast<std::size_t>(n);
             return e;
         }},
        {"queue-type", "quorum|classic", "type of the declared queues (default quorum)",
         [](worker_options& o, const std::string& v) -> std::string {
             if (v != "quorum" && v != "classic") return "expects quorum or classic, got '" + v + "'";
             o.amqp.queue_type = v;
             return {};
         }},
        {"delivery-limit", "N", "deliveries before a job is dead-lettered (default 5)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 1, 1'000'000, n);
             o.amqp.delivery_limit = static_cast<unsigned>(n);
             return e;
         }},
        {"handler", "simulate|exec|http", "what runs a job (default simulate)",
         [](worker_options& o, const std::string& v) -> std::string {
             const auto names = handler_names();
             if (std::find(names.begin(), names.end(), v) == names.end()) {
                 std::string known;
                 for (const auto& n : names) known += (known.empty() ? "" : " or ") + n;
                 return "expects " + known + ", got '" + v + "'";
             }
             o.handler = v;
             return {};
         }},
        {"duration-ms", "MS", "simulate: time per job (default 1000)",
         [](worker_options& o, const std::string& v) { return set_ms(v, 0, o.simulate.duration); }},
        {"steps", "N", "simulate: progress events per job, 0..100 (default 4)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 0, 100, n);
             o.simulate.steps = static_cast<unsigned>(n);
             return e;
         }},
        {"failure-rate", "P", "simulate: probability 0..1 that a job fails (default 0)",
         [](worker_options& o, const std::string& v) -> std::string {
             auto p = to_number<double>(v);
             if (!p || !std::isfinite(*p) || *p < 0 || *p > 1)
                 return "expects a number from 0 to 1, got '" + v + "'";
             o.simulate.failure_rate = *p;
             return {};
         }},
        {"command", "CMD", "exec: shell command run per job with /bin/sh -c, the job on stdin",
         [](worker_options& o, const std::string& v) { return set_text(v, o.exec.command); }},
        {"kill-grace-ms", "MS", "exec: SIGTERM to SIGKILL when a job is cancelled or stopped (default 5000)",
         [](worker_options& o, const std::string& v) { return set_ms(v, 0, o.exec.kill_grace); }},
        {"retryable-exit-code", "N", "exec: this exit code fails the job retryably; 0 for none (default 75)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 0, 255, n);
             o.exec.retryable_exit_code = static_cast<int>(n);
             return e;
         }},
        {"model-url", "URL",
         "http: the model server's URL, POSTed the job's input per job (required for http)",
         [](worker_options& o, const std::string& v) -> std::string {
             if (v.rfind("http://", 0) != 0) return "expects an http:// URL, got '" + v + "'";
             o.http.url = v;
             return {};
         }},
        {"model-timeout-ms", "MS", "http: connect, send and answer of one job, at most (default 600000)",
         [](worker_options& o, const std::string& v) { return set_ms(v, 1, o.http.timeout); }},
        {"model-max-response-bytes", "N", "http: a larger answer body fails the job (default 1048576)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 1, 1ull << 30, n);
             o.http.max_response_bytes = static_cast<std::size_t>(n);
             return e;
         }},
        {"timeout-ms", "MS", "a job running longer fails with \"timed out after N ms\" (default 60000)",
         [](worker_options& o, const std::string& v) { return set_ms(v, 1, o.timeout); }},
        {"event-batch", "N",
         "status events of contract-3 jobs per message, at most (1: one per message; default 64)",
         [](worker_options& o, const std::string& v) {
             std::uint64_t n = 0;
             auto e = unsigned_in(v, 1, 10'000, n);
             o.event_batch = static_cast<std::size_t>(n);
             return e;
         }},
        {"event-linger-ms", "MS",
         "how long a status event may wait for others to share its message (default 5)",
         [](worker_options& o, const std::string& v) { return set_ms(v, 0, o.event_linger); }},
        {"grace-ms", "MS", "on SIGTERM, time jobs in hand may take to finish (default 30000)",
         [](worker_options& o, const std::string& v) { return set_ms(v, 0, o.grace); }},
        {"log-level", "LEVEL", "trace, debug, info, warn or error (default info)",
         [](worker_options& o, const std::string& v) -> std::string {
             static const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error"};
             if (std::find(levels.begin(), levels.end(), v) == levels.end())
                 return "expects trace, debug, info, warn or error, got '" + v + "'";
             o.log_level = v;
             return {};
         }},
    };
    return table;
}

std::string env_name(std::string_view flag_name) {
    std::string out = "JOBS_WORKER_";
    for (char c : flag_name)
        out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

const flag* find_flag(std::string_view name) {
    for (const auto& f : flags())
        if (name == f.name) return &f;
    return nullptr;
}

}  // namespace

parse_result parse_worker_options(std::span<const std::string> args, const env_lookup& env) {
    worker_options o;
    parse_result r;

    // The environment first; URLs from it replace the built-in default.
    for (const auto& f : flags()) {
        const std::string name = env_name(f.name);
        auto value = env ? env(name) : std::nullopt;
        if (!value) continue;
        if (std::string_view(f.name) == "url") o.amqp.urls.clear();
        if (auto e = f.apply(o, *value); !e.empty()) {
            r.error = name + " " + e;
            return r;
        }
    }

    bool urls_from_args = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            r.help = true;
            return r;
        }
        if (a.rfind("--", 0) != 0 || a.size() == 2) {
            r.error = "unexpected argument '" + a + "' (flags start with --; see --help)";
            return r;
        }
        std::string name = a.substr(2);
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        const flag* f = find_flag(name);
        if (!f) {
            r.error = "unknown flag --" + name + " (see --help)";
            return r;
        }
        if (!value) {
            if (i + 1 >= args.size()) {
                r.error = "--" + name + " needs a value (" + f->arg + ")";
                return r;
            }
            value = args[++i];
        }
        if (name == "url" && !urls_from_args) {
            o.amqp.urls.clear();
            urls_from_args = true;
        }
        if (auto e = f->apply(o, *value); !e.empty()) {
            r.error = "--" + name + " " + e;
            return r;
        }
    }

    if (o.job_type.empty()) {
        r.error =
            "--type is required (or JOBS_WORKER_TYPE): one of ai_talking_video, video, tts, image, photo_qc, "
            "pdf, ai_image_generation";
        return r;
    }
    if (o.handler == "exec" && o.exec.command.empty()) {
        r.error = "--handler exec needs --command (or JOBS_WORKER_COMMAND)";
        return r;
    }
    if (o.handler == "http" && o.http.url.empty()) {
        r.error = "--handler http needs --model-url (or JOBS_WORKER_MODEL_URL)";
        return r;
    }
    if (o.amqp.urls.empty()) {
        r.error = "--url: at least one broker URL is needed";
        return r;
    }
    r.options = std::move(o);
    return r;
}

std::string usage_text() {
    std::string out =
        "usage: jobs-worker --type TYPE [flags]\n"
        "\n"
        "Consumes the job queue of one job type, runs each job in a handler and publishes its\n"
        "status events; acks a job once its SUCCESS or FAILED event is confirmed by the broker.\n"
        "Every flag can also be set as an environment variable JOBS_WORKER_<FLAG>\n"
        "(e.g. --queue-prefix as JOBS_WORKER_QUEUE_PREFIX); flags win.\n"
        "\n"
        "flags:\n";
    for (const auto& f : flags()) {
        std::string left = std::string("  --") + f.name + " " + f.arg;
        if (left.size() < 34)
            left.resize(34, ' ');
        else
            left += "\n" + std::string(34, ' ');
        out += left + f.help + "\n";
    }
    out += "  --help                          this text\n";
    return out;
}

}  // namespace jobsd::worker

// jobs-bench: load generator for jobsd. Wires options, payload mix, load runs, the e2e consumer
// and calibration together, prints the table and writes the reports; exit 1 on a missed threshold.
#include <unistd.h>

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "bench/jobs_bench/bench_result.hpp"
#include "bench/jobs_bench/broker_calibration.hpp"
#include "bench/jobs_bench/calibration_server.hpp"
#include "bench/jobs_bench/e2e_consumer.hpp"
#include "bench/jobs_bench/e2e_matcher.hpp"
#include "bench/jobs_bench/html_report.hpp"
#include "bench/jobs_bench/http_load_client.hpp"
#include "bench/jobs_bench/idle_connections.hpp"
#include "bench/jobs_bench/json_report.hpp"
#include "bench/jobs_bench/options.hpp"
#include "bench/jobs_bench/payload_mix.hpp"
#include "bench/jobs_bench/process_cpu.hpp"
#include "bench/jobs_bench/request_set.hpp"
#include "bench/jobs_bench/text_report.hpp"

using namespace jobsd::bench;

namespace {

// A key no account has: the scenario measures the 401 path (key lookup, no body work).
constexpr const char* invalid_key = "jobs-bench-invalid-key-0000000000";

load_plan plan_for(const options& o, const std::string& host, const std::string& port) {
    load_plan p;
    p.host = host;
    p.port = port;
    p.threads = o.threads;
    p.connections = o.connections;
    p.duration =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(o.duration_s));
    p.rate = o.rate;
    p.timeout = o.timeout;
    p.grace = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(o.grace_s));
    return p;
}

void print_progress(const std::string& label, const load_progress& p, std::uint64_t& last) {
    std::fprintf(stderr, "\r%-8s %6.1f s  %8llu req/s  %10llu done  %8llu failed ", label.c_str(),
                 p.elapsed_s, static_cast<unsigned long long>(p.completed - last),
                 static_cast<unsigned long long>(p.completed), static_cast<unsigned long long>(p.failed));
    std::fflush(stderr);
    last = p.completed;
}

// One measured load run, summarised; `watch` (when given) is sampled once a second.
run_summary measure(const options& o, const std::string& label, const load_plan& plan,
                    const request_set& requests, const std::string& path, unsigned expected_status,
                    load_outcome* keep = nullptr, cpu_watch* watch = nullptr) {
    run_summary r;
    r.label = label;
    r.target = plan.host + ":" + plan.port + path;
    r.scenario = o.scenario;
    r.model = plan.rate > 0 ? "open" : "closed";
    r.connections = plan.connections;
    r.threads = plan.threads;
    r.rate = plan.rate;
    r.duration_s = o.duration_s;
    r.expected_status = expected_status;
    const bool show = o.progress && ::isatty(2);
    std::uint64_t last = 0;
    load_outcome out = run_load(plan, requests, [&](const load_progress& p) {
        if (watch) watch->sample_second();
        if (show) print_progress(label, p, last);
    });
    if (show) std::fprintf(stderr, "\r%80s\r", "");
    r.fatal = out.fatal;
    fill_counts(r, *out.stats, out.elapsed_s);
    if (keep) *keep = std::move(out);
    return r;
}

bool write_file(const std::string& path, const std::string& what, auto&& writer) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (f) writer(f);
    f.flush();
    if (!f) {
        std::cerr << "jobs-bench: cannot write the " << what << " to " << path << "\n";
        return false;
    }
    return true;
}

// The idle scenario: prints "holding N idle connections" (flushed) once they are open, so a
// script can sample the server's memory during the hold; exit 1 when any failed or was closed.
int run_idle(const options& o) {
    idle_plan plan;
    plan.host = o.host;
    plan.port = o.port;
    plan.connections = o.connections;
    plan.threads = o.threads;
    plan.hold = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(o.hold_s));
    plan.timeout = std::max(o.timeout, std::chrono::milliseconds(10'000));
    const auto out = hold_idle_connections(plan, [&](std::uint64_t answered) {
        std::printf("holding %llu idle connections to %s:%s for %.1f s\n",
                    static_cast<unsigned long long>(answered), o.host.c_str(), o.port.c_str(), o.hold_s);
        std::fflush(stdout);
    });
    if (!out.fatal.empty()) {
        std::cerr << "jobs-bench: " << out.fatal << "\n";
        return 1;
    }
    std::printf("idle: %llu answered, %llu failed, %llu closed by the server during the hold\n",
                static_cast<unsigned long long>(out.answered), static_cast<unsigned long long>(out.failed),
                static_cast<unsigned long long>(out.closed_early));
    if (!out.first_error.empty()) std::printf("  first failure: %s\n", out.first_error.c_str());
    return out.failed == 0 && out.closed_early == 0 ? 0 : 1;
}

// --webhook-receiver: waits (up to --e2e-grace once arrivals stop) for one delivery per created
// job, then prints how many came, their rate from the load's start to the last arrival, and the
// latency from each job's 201 to its first delivery (worker, broker, event, store, dispatcher).
void report_webhooks(const options& o, calibration_server& receiver, const load_outcome& outcome,
                     std::uint64_t created, std::chrono::steady_clock::time_point start) {
    const auto grace = std::chrono::duration<double>(o.e2e_grace_s);
    auto last_change = std::chrono::steady_clock::now();
    for (std::uint64_t seen = receiver.requests(); seen < created;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const auto now = std::chrono::steady_clock::now();
        const auto n = receiver.requests();
        if (n != seen) seen = n, last_change = now;
        if (now - last_change > grace) break;
    }
    const auto got = receiver.requests();
    const auto last =
        std::chrono::steady_clock::time_point(std::chrono::nanoseconds(receiver.last_request_ns()));
    const double span = got ? std::chrono::duration<double>(last - start).count() : 0;
    std::printf(
        "webhooks  %llu deliveries received for %llu created jobs; %.0f deliveries/s (load start to "
        "last arrival, %.1f s)\n",
        static_cast<unsigned long long>(got), static_cast<unsigned long long>(created),
        span > 0 ? static_cast<double>(got) / span : 0.0, span);
    e2e_matcher matcher;
    for (const auto& j : outcome.stats->accepted)
        matcher.accept({j.uuid.data(), j.uuid.size()}, j.accepted_ns);
    for (const auto& a : receiver.take_arrivals()) matcher.deliver(a.uuid, a.at_ns);
    const auto l = summarize(matcher.latency());
    std::printf(
        "webhooks  201 to delivery: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (%llu jobs matched, "
        "%llu repeated deliveries)\n",
        l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, static_cast<unsigned long long>(l.count),
        static_cast<unsigned long long>(matcher.duplicates()));
}

// The scenario's requests, the path they report under and the status they expect. A get run
// first creates its pool of jobs to read; nullopt (with the reason printed) when it cannot.
struct scenario {
    request_set requests;
    std::string path = "/jobs/v2";
    unsigned expected = 201;
};

std::optional<scenario> build_scenario(const options& o, const payload_mix& mix, const std::string& key) {
    const std::string host_header = o.host + ":" + o.port;
    scenario sc;
    if (o.scenario == "create") {
        sc.requests = request_set::posts(mix, host_header, sc.path, key);
        return sc;
    }
    if (o.scenario == "bad-key") {
        sc.requests = request_set::posts(mix, host_header, sc.path, invalid_key);
        sc.expected = 401;
        return sc;
    }
    load_plan seed = plan_for(o, o.host, o.port);
    seed.rate = 0;
    seed.duration = std::chrono::seconds(60);
    seed.request_limit = o.get_pool;
    seed.collect_accepted = true;
    load_outcome out = run_load(seed, request_set::posts(mix, host_header, sc.path, key), {});
    std::vector<std::string> uuids;
    for (const auto& j : out.stats->accepted) uuids.emplace_back(j.uuid.data(), j.uuid.size());
    if (uuids.empty()) {
        std::cerr << "jobs-bench: the get scenario could not create any job to read ("
                  << (out.fatal.empty() ? std::to_string(out.stats->failures()) + " failures, " +
                                              std::to_string(out.stats->answers()) + " answers without a uuid"
                                        : out.fatal)
                  << ")\n";
        return std::nullopt;
    }
    sc.requests = request_set::gets(uuids, host_header, key);
    sc.path = "/jobs/:id";
    sc.expected = 200;
    return sc;
}

// Calibration runs first, so jobsd's run is not disturbed by the built-in server's threads.
void calibrate(const options& o, const payload_mix& mix, const std::string& key, const scenario& sc,
               bench_result& result) {
    result.calibration.enabled = true;
    try {
        result.calibration.http_threads = o.calibrate_threads;
        calibration_server server(o.calibrate_threads);
        const std::string port = std::to_string(server.port());
        const auto cal_requests =
            o.scenario == "get" ? sc.requests : request_set::posts(mix, "127.0.0.1:" + port, "/jobs/v2", key);
        result.calibration.http =
            measure(o, "ceiling", plan_for(o, "127.0.0.1", port), cal_requests, sc.path, 201);
    } catch (const std::exception& e) {
        result.calibration.http.fatal = std::string("cannot start the built-in server: ") + e.what();
    }
    result.calibration.broker = o.calibrate_broker;
    if (o.calibrate_broker) {
        broker_probe probe;
        probe.url = o.amqp_url;
        probe.queue_type = o.queue_type;
        const broker_rate b = measure_broker_rate(probe);
        result.calibration.broker_rps = b.per_second;
        result.calibration.broker_error = b.error;
    }
}

// The e2e consumer. A broker that is restarting gets a few seconds; then the run goes on without
// e2e and says why (the report and the exit code show it).
std::unique_ptr<e2e_consumer> connect_e2e(const options& o, bench_result& result) {
    result.e2e.enabled = true;
    result.e2e.exchange = o.exchange;
    result.e2e.grace_s = o.e2e_grace_s;
    const std::vector<std::string> types(std::begin(job_types), std::end(job_types));
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        try {
            return std::make_unique<e2e_consumer>(o.amqp_url, o.exchange, types);
        } catch (const std::exception& e) {
            if (std::chrono::steady_clock::now() < give_up) {
                std::this_thread::sleep_for(std::chrono::seconds(1));
                continue;
            }
            result.e2e.error = e.what();
            std::cerr << "jobs-bench: " << e.what() << "\n";
            return nullptr;
        }
    }
}

// Matches every accepted job with its delivery, waiting up to the e2e grace for late ones.
void match_deliveries(const options& o, e2e_consumer& consumer, const load_outcome& outcome,
                      bench_result& result) {
    e2e_matcher matcher(outcome.origin_ns);
    for (const auto& j : outcome.stats->accepted)
        matcher.accept({j.uuid.data(), j.uuid.size()}, j.accepted_ns);
    const auto give_up =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(o.e2e_grace_s));
    for (;;) {
        for (const auto& d : consumer.take()) matcher.deliver(d.message_id, d.delivered_ns);
        if (matcher.pending() == 0 || std::chrono::steady_clock::now() >= give_up ||
            !consumer.error().empty())
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    consumer.stop();
    for (const auto& d : consumer.take()) matcher.deliver(d.message_id, d.delivered_ns);
    auto& e = result.e2e;
    e.accepted = matcher.accepted();
    e.delivered = matcher.delivered();
    e.lost = matcher.pending();
    e.duplicates = matcher.duplicates();
    e.foreign = matcher.foreign();
    e.untracked = outcome.stats->untracked;
    e.latency = summarize(matcher.latency());
    e.series = e2e_series_of(matcher.by_second());
    e.pipeline_rps = pipeline_rate(e.delivered, o.duration_s, outcome.origin_ns, matcher.last_delivery_ns());
    if (e.error.empty()) e.error = consumer.error();
    if (consumer.dropped() && e.error.empty()) e.error = "deliveries dropped past the consumer's bound";
}

// The table on stdout and the files asked for; false when a file could not be written.
bool write_reports(const options& o, const bench_result& result, const load_outcome& outcome) {
    write_text_report(std::cout, result);
    bool wrote = true;
    if (!o.json_file.empty())
        wrote &= write_file(o.json_file, "JSON result",
                            [&](std::ostream& f) { f << boost::json::serialize(to_json(result)) << "\n"; });
    if (!o.html_file.empty())
        wrote &=
            write_file(o.html_file, "HTML report", [&](std::ostream& f) { write_html_report(f, result); });
    if (!o.accepted_file.empty())
        wrote &= write_file(o.accepted_file, "accepted uuids", [&](std::ostream& f) {
            for (const auto& j : outcome.stats->accepted) f.write(j.uuid.data(), j.uuid.size()) << '\n';
        });
    return wrote;
}

// 1 when the run failed or missed a threshold (saying why on stderr), 2 when a report could not
// be written, else 0.
int exit_code(const options& o, const bench_result& result, bool wrote) {
    if (!result.run.fatal.empty()) std::cerr << "jobs-bench: " << result.run.fatal << "\n";
    const bool no_answer = result.run.fatal.empty() && result.run.answers == 0;
    if (no_answer) {
        std::cerr << "jobs-bench: no answer from " << result.run.target;
        for (std::size_t k = 0; k < error_kind_count; ++k)
            if (!result.run.first_error[k].empty())
                std::cerr << "; " << to_string(static_cast<error_kind>(k)) << ": "
                          << result.run.first_error[k];
        std::cerr << "\n";
    }
    if (no_answer || !result.run.fatal.empty() || !result.missed.empty() ||
        (o.e2e && !result.e2e.error.empty()))
        return 1;
    return wrote ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
    const auto parsed = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    if (const auto* e = std::get_if<parse_error>(&parsed)) {
        (e->help ? std::cout : std::cerr)
            << (e->help ? "" : "jobs-bench: ") << e->message << (e->help ? "" : "\n");
        return e->help ? 0 : 2;
    }
    const options& o = std::get<options>(parsed);
    if (o.scenario == "idle") return run_idle(o);

    std::unique_ptr<calibration_server> receiver;
    std::string webhook;
    if (o.webhook_receiver) {
        receiver = std::make_unique<calibration_server>(1, true);
        webhook = "http://127.0.0.1:" + std::to_string(receiver->port()) + "/hooks";
    }
    std::optional<payload_mix> mix;
    try {
        mix = payload_mix::load(o.payload_file);
        mix->apply({o.template_id, o.prompt_id, webhook});
    } catch (const std::exception& e) {
        std::cerr << "jobs-bench: " << e.what() << "\n";
        return 2;
    }
    const std::string key = o.api_key.empty() ? mix->api_key() : o.api_key;
    const auto sc = build_scenario(o, *mix, key);
    if (!sc) return 1;

    bench_result result;
    result.limits = o.limits;
    if (o.calibrate) calibrate(o, *mix, key, *sc, result);
    std::unique_ptr<e2e_consumer> consumer;
    if (o.e2e) consumer = connect_e2e(o, result);

    load_plan plan = plan_for(o, o.host, o.port);
    plan.collect_accepted = o.e2e || o.webhook_receiver || !o.accepted_file.empty();
    load_outcome outcome;
    cpu_watch watch(o.watch);
    const auto load_start = std::chrono::steady_clock::now();
    result.run = measure(o, "jobsd", plan, sc->requests, sc->path, sc->expected, &outcome, &watch);
    if (consumer) match_deliveries(o, *consumer, outcome, result);
    // After the deliveries: with --e2e, draining the outbox is part of what a job costs.
    result.cpu = watch.finish(result.run.answers);
    if (o.e2e && !consumer) result.e2e.accepted = outcome.stats->accepted.size();  // loss unknown

    if (result.calibration.enabled) {
        auto& c = result.calibration;
        c.http_fraction = c.http.rps > 0 ? result.run.rps / c.http.rps : 0;
        const double jobs_rate = result.e2e.enabled ? result.e2e.pipeline_rps : result.run.good_rps;
        c.broker_fraction = c.broker_rps > 0 ? jobs_rate / c.broker_rps : 0;
    }
    result.missed = check_thresholds(result);
    const bool wrote = write_reports(o, result, outcome);
    if (receiver) report_webhooks(o, *receiver, outcome, result.run.good, load_start);
    return exit_code(o, result, wrote);
}

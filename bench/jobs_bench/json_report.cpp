// Field names follow the terminal table; latencies in ms, rates per second, counts as integers.
#include "bench/jobs_bench/json_report.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <string>

namespace json = boost::json;

namespace jobsd::bench {

namespace {

json::object latency_json(const latency_summary& l) {
    return {{"count", l.count},   {"mean_ms", l.mean_ms},  {"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms},
            {"p99_ms", l.p99_ms}, {"p99_9_ms", l.p999_ms}, {"max_ms", l.max_ms}};
}

json::object run_json(const run_summary& r) {
    json::object status, errors, first_errors;
    for (const auto& [code, n] : r.status) status[std::to_string(code)] = n;
    for (std::size_t k = 0; k < error_kind_count; ++k) {
        const auto name = to_string(static_cast<error_kind>(k));
        errors[name] = r.errors[k];
        if (!r.first_error[k].empty()) first_errors[name] = r.first_error[k];
    }
    json::array series(r.per_second.begin(), r.per_second.end());
    json::object o{{"label", r.label},
                   {"target", r.target},
                   {"scenario", r.scenario},
                   {"model", r.model},
                   {"connections", r.connections},
                   {"threads", r.threads},
                   {"rate", r.rate},
                   {"duration_s", r.duration_s},
                   {"elapsed_s", r.elapsed_s},
                   {"expected_status", r.expected_status},
                   {"sent", r.sent},
                   {"answers", r.answers},
                   {"good", r.good},
                   {"failures", r.failures},
                   {"connects", r.connects},
                   {"rps", r.rps},
                   {"good_rps", r.good_rps},
                   {"latency", latency_json(r.latency)},
                   {"status", std::move(status)},
                   {"errors", std::move(errors)},
                   {"first_errors", std::move(first_errors)},
                   {"per_second", std::move(series)}};
    if (!r.fatal.empty()) o["fatal"] = r.fatal;
    return o;
}

json::array distribution_json(const std::vector<latency_bin>& bins) {
    json::array out;
    for (const auto& b : bins)
        out.push_back(json::object{{"low_ms", b.low_ms}, {"high_ms", b.high_ms}, {"count", b.count}});
    return out;
}

// One entry per second of the measured phase (load or e2e deliveries, whichever lasted longer).
json::array series_json(const bench_result& r) {
    json::array out;
    const auto& load = r.run.series;
    const auto& e2e = r.e2e.series;
    const std::size_t n = std::max(load.size(), r.e2e.enabled ? e2e.size() : 0);
    for (std::size_t i = 0; i < n; ++i) {
        const second_sample x = i < load.size() ? load[i] : second_sample{};
        json::object o{{"second", i},
                       {"answers", x.answers},
                       {"errors", x.errors},
                       {"p50_ms", x.p50_ms},
                       {"p99_ms", x.p99_ms}};
        if (r.e2e.enabled) {
            const e2e_second d = i < e2e.size() ? e2e[i] : e2e_second{};
            o["e2e_delivered"] = d.delivered;
            o["e2e_p50_ms"] = d.p50_ms;
            o["e2e_p99_ms"] = d.p99_ms;
        }
        json::object cpu;
        for (const auto& p : r.cpu)
            if (i < p.per_second_s.size()) cpu[p.name] = p.per_second_s[i];
        if (!cpu.empty()) o["cpu_s"] = std::move(cpu);
        out.push_back(std::move(o));
    }
    return out;
}

json::array cpu_json(const std::vector<process_cpu_summary>& cpu) {
    json::array out;
    for (const auto& p : cpu) {
        json::array pids;
        for (const long pid : p.pids) pids.push_back(pid);
        json::object o{{"name", p.name}, {"pids", std::move(pids)}};
        if (p.error.empty()) {
            o["cpu_s"] = p.cpu_s;
            o["us_per_request"] = p.us_per_request;
        } else {
            o["error"] = p.error;
        }
        out.push_back(std::move(o));
    }
    return out;
}

}  // namespace

json::value to_json(const bench_result& r) {
    json::object root{{"tool", "jobs-bench"}, {"run", run_json(r.run)}, {"series", series_json(r)}};
    root["run"].as_object()["distribution"] = distribution_json(r.run.distribution);
    if (!r.cpu.empty()) root["cpu"] = cpu_json(r.cpu);
    if (r.e2e.enabled) {
        const auto& e = r.e2e;
        json::object o{
            {"exchange", e.exchange},        {"grace_s", e.grace_s},     {"accepted", e.accepted},
            {"delivered", e.delivered},      {"lost", e.lost},           {"duplicates", e.duplicates},
            {"foreign", e.foreign},          {"untracked", e.untracked}, {"latency", latency_json(e.latency)},
            {"pipeline_rps", e.pipeline_rps}};
        if (!e.error.empty()) o["error"] = e.error;
        root["e2e"] = std::move(o);
    }
    if (r.calibration.enabled) {
        const auto& c = r.calibration;
        json::object o{{"http", run_json(c.http)},         {"http_ceiling_rps", c.http.rps},
                       {"http_threads", c.http_threads},   {"broker_rps", c.broker_rps},
                       {"http_fraction", c.http_fraction}, {"broker_fraction", c.broker_fraction}};
        if (!c.broker_error.empty()) o["broker_error"] = c.broker_error;
        root["calibration"] = std::move(o);
    }
    json::object limits;
    if (r.limits.max_p99_ms) limits["max_p99_ms"] = *r.limits.max_p99_ms;
    if (r.limits.max_p999_ms) limits["max_p999_ms"] = *r.limits.max_p999_ms;
    if (r.limits.min_rps) limits["min_rps"] = *r.limits.min_rps;
    if (r.limits.min_http_fraction) limits["min_http_fraction"] = *r.limits.min_http_fraction;
    if (r.limits.min_broker_fraction) limits["min_broker_fraction"] = *r.limits.min_broker_fraction;
    if (r.limits.max_loss) limits["max_loss"] = *r.limits.max_loss;
    json::array missed;
    for (const auto& m : r.missed) missed.emplace_back(m);
    root["thresholds"] = std::move(limits);
    root["missed"] = std::move(missed);
    root["passed"] = r.missed.empty();
    return root;
}

}  // namespace jobsd::bench

// Plain text, no colours: the same output reads well on a terminal, in a CI log and in a README.
#include "bench/jobs_bench/text_report.hpp"

#include <cstdio>
#include <string>

#include "bench/jobs_bench/process_cpu.hpp"

namespace jobsd::bench {

namespace {

std::string fmt(const char* f, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

void write_run(std::ostream& out, const run_summary& r) {
    out << fmt("%s  %s  %s  (%s loop", r.label.c_str(), r.scenario.c_str(), r.target.c_str(),
               r.model.c_str());
    if (r.model == "open") out << fmt(" at %.0f req/s", r.rate);
    out << fmt(", %u connections, %u threads, %.1f s)\n", r.connections, r.threads, r.duration_s);
    if (!r.fatal.empty()) {
        out << "  did not run: " << r.fatal << "\n";
        return;
    }
    out << fmt("  %-12s %10s %10s %10s %10s %10s %10s\n", "latency ms", "p50", "p90", "p99", "p99.9", "max",
               "mean");
    const auto& l = r.latency;
    out << fmt("  %-12s %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f\n", "", l.p50_ms, l.p90_ms, l.p99_ms,
               l.p999_ms, l.max_ms, l.mean_ms);
    out << fmt(
        "  throughput   %10.0f req/s (%.0f with status %u)   %llu answers in %.2f s, %llu sent, %llu "
        "connects\n",
        r.rps, r.good_rps, r.expected_status, static_cast<unsigned long long>(r.answers), r.elapsed_s,
        static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.connects));
    out << "  status      ";
    if (r.status.empty()) out << "  (no answers)";
    for (const auto& [code, n] : r.status) out << fmt("  %u: %llu", code, static_cast<unsigned long long>(n));
    out << "\n  errors      ";
    for (std::size_t k = 0; k < error_kind_count; ++k)
        out << fmt("  %s: %llu", std::string(to_string(static_cast<error_kind>(k))).c_str(),
                   static_cast<unsigned long long>(r.errors[k]));
    out << "\n";
    for (std::size_t k = 0; k < error_kind_count; ++k)
        if (r.errors[k])
            out << "    first " << to_string(static_cast<error_kind>(k)) << " error: " << r.first_error[k]
                << "\n";
    if (!r.per_second.empty()) {
        out << "  req/s by second:";
        for (auto n : r.per_second) out << " " << n;
        out << "\n";
    }
}

}  // namespace

void write_text_report(std::ostream& out, const bench_result& r) {
    write_run(out, r.run);
    if (r.e2e.enabled) {
        const auto& e = r.e2e;
        out << fmt("e2e via exchange \"%s\" (grace %.1f s)\n", e.exchange.c_str(), e.grace_s);
        out << fmt("  accepted %llu  delivered %llu  lost %llu  duplicates %llu  foreign %llu\n",
                   static_cast<unsigned long long>(e.accepted), static_cast<unsigned long long>(e.delivered),
                   static_cast<unsigned long long>(e.lost), static_cast<unsigned long long>(e.duplicates),
                   static_cast<unsigned long long>(e.foreign));
        const auto& l = e.latency;
        out << fmt("  accept->deliver ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", l.p50_ms,
                   l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms);
        out << fmt("  accepted and delivered %.0f jobs/s (load start to last delivery)\n", e.pipeline_rps);
        if (e.untracked)
            out << fmt("  untracked %llu (201s past the bound on tracked jobs, not judged)\n",
                       static_cast<unsigned long long>(e.untracked));
        if (!e.error.empty()) out << "  error: " << e.error << "\n";
    }
    if (r.calibration.enabled) {
        const auto& c = r.calibration;
        out << "calibration (same load, same machine)\n";
        if (c.http.fatal.empty())
            out << fmt(
                "  HTTP ceiling (built-in 201 server)  %10.0f req/s   p99 %.3f ms   jobsd = %5.1f %%\n",
                c.http.rps, c.http.latency.p99_ms, 100 * c.http_fraction);
        else
            out << "  HTTP ceiling: not measured: " << c.http.fatal << "\n";
        if (!c.broker)
            ;
        else if (c.broker_error.empty())
            out << fmt(
                "  broker confirmed publishes          %10.0f msg/s               jobsd = %5.1f %%%s\n",
                c.broker_rps, 100 * c.broker_fraction, r.e2e.enabled ? " (accepted and delivered)" : "");
        else
            out << "  broker rate: not measured: " << c.broker_error << "\n";
    }
    if (!r.cpu.empty()) out << "cpu during the run (user + system, /proc/PID/stat)\n";
    for (const auto& p : r.cpu) {
        const std::string who = p.name + " (pid " + pid_list(p.pids) + ")";
        if (p.error.empty())
            out << fmt("  %-28s %8.3f s  %10.1f us per request\n", who.c_str(), p.cpu_s, p.us_per_request);
        else
            out << fmt("  %-28s not measured: %s\n", who.c_str(), p.error.c_str());
    }
    if (!r.missed.empty()) {
        out << "THRESHOLDS MISSED\n";
        for (const auto& m : r.missed) out << "  " << m << "\n";
    } else if (r.limits.any()) {
        out << "thresholds met\n";
    }
}

}  // namespace jobsd::bench

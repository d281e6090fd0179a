// The page: a summary table, then each chart followed by the table of its figures (the numbers
// of the JSON report, formatted once here, so a reader and a test find the same text).
#include "bench/jobs_bench/html_report.hpp"

#include <algorithm>
#include <sstream>
#include <vector>

#include "bench/jobs_bench/process_cpu.hpp"
#include "bench/jobs_bench/svg_chart.hpp"
#include "bench/jobs_bench/text_report.hpp"

namespace jobsd::bench {

namespace {

// The formats of the page's figures (html_report.hpp lists them for the tests).
std::string rate(double v) {
    return fmt("%.0f", v);
}
std::string ms(double v) {
    return fmt("%.3f", v);
}
std::string us(double v) {
    return fmt("%.1f", v);
}
std::string count(std::uint64_t v) {
    return fmt("%llu", static_cast<unsigned long long>(v));
}

// <tr><th>label</th><td data-field="field">value</td></tr>
void row(std::ostream& out, std::string_view label, std::string_view field, const std::string& value) {
    out << "<tr><th>" << html_escape(label) << "</th><td data-field=\"" << field << "\">"
        << html_escape(value) << "</td></tr>\n";
}

void summary_table(std::ostream& out, const run_summary& r) {
    const auto& l = r.latency;
    out << "<h3>Figures</h3>\n<table id=\"figures\">\n";
    row(out, "answers per second", "rps", rate(r.rps));
    row(out, "with status " + std::to_string(r.expected_status) + " per second", "good_rps",
        rate(r.good_rps));
    row(out, "answers", "answers", count(r.answers));
    row(out, "failures (no answer)", "failures", count(r.failures));
    row(out, "p50 latency (ms)", "p50_ms", ms(l.p50_ms));
    row(out, "p90 latency (ms)", "p90_ms", ms(l.p90_ms));
    row(out, "p99 latency (ms)", "p99_ms", ms(l.p99_ms));
    row(out, "p99.9 latency (ms)", "p99_9_ms", ms(l.p999_ms));
    row(out, "max latency (ms)", "max_ms", ms(l.max_ms));
    row(out, "mean latency (ms)", "mean_ms", ms(l.mean_ms));
    out << "</table>\n";
}

void series_table(std::ostream& out, const bench_result& r) {
    const bool e2e = r.e2e.enabled;
    out << "<h3>By second</h3>\n<table id=\"series\">\n<tr><th>second</th><th>answers</th><th>errors</th>"
           "<th>p50 ms</th><th>p99 ms</th>"
        << (e2e ? "<th>delivered</th><th>accept→deliver p50 ms</th><th>p99 ms</th>" : "") << "</tr>\n";
    const std::size_t n = std::max(r.run.series.size(), e2e ? r.e2e.series.size() : 0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = i < r.run.series.size() ? r.run.series[i] : second_sample{};
        out << "<tr data-second=\"" << i << "\"><td>" << i << "</td><td data-field=\"answers\">"
            << count(x.answers) << "</td><td data-field=\"errors\">" << count(x.errors)
            << "</td><td data-field=\"p50_ms\">" << ms(x.p50_ms) << "</td><td data-field=\"p99_ms\">"
            << ms(x.p99_ms) << "</td>";
        if (e2e) {
            const auto d = i < r.e2e.series.size() ? r.e2e.series[i] : e2e_second{};
            out << "<td data-field=\"e2e_delivered\">" << count(d.delivered)
                << "</td><td data-field=\"e2e_p50_ms\">" << ms(d.p50_ms)
                << "</td><td data-field=\"e2e_p99_ms\">" << ms(d.p99_ms) << "</td>";
        }
        out << "</tr>\n";
    }
    out << "</table>\n";
}

void distribution_section(std::ostream& out, const run_summary& r) {
    log_distribution_chart(out, "chart-distribution", "Latency distribution (answers per bin, log-scale ms)",
                           r.distribution);
    out << "<details><summary>Bins</summary>\n<table id=\"distribution\">\n"
           "<tr><th>from ms</th><th>to ms</th><th>answers</th></tr>\n";
    for (const auto& b : r.distribution)
        out << "<tr><td>" << fmt("%.4f", b.low_ms) << "</td><td>" << fmt("%.4f", b.high_ms) << "</td><td>"
            << count(b.count) << "</td></tr>\n";
    out << "</table></details>\n";
}

void percentile_section(std::ostream& out, const latency_summary& l, std::string_view id,
                        std::string_view title) {
    bar_chart(out, id, title,
              {{"p50", l.p50_ms, ms(l.p50_ms) + " ms"},
               {"p90", l.p90_ms, ms(l.p90_ms) + " ms"},
               {"p99", l.p99_ms, ms(l.p99_ms) + " ms"},
               {"p99.9", l.p999_ms, ms(l.p999_ms) + " ms"},
               {"max", l.max_ms, ms(l.max_ms) + " ms"}});
}

void calibration_section(std::ostream& out, const bench_result& r) {
    const auto& c = r.calibration;
    std::vector<chart_bar> bars{{"jobsd", r.run.rps, rate(r.run.rps) + " req/s"}};
    if (c.http.fatal.empty())
        bars.push_back({"built-in 201 server", c.http.rps, rate(c.http.rps) + " req/s"});
    if (c.broker && c.broker_error.empty())
        bars.push_back({"broker confirms", c.broker_rps, rate(c.broker_rps) + " msg/s"});
    if (r.e2e.enabled)
        bars.push_back({"jobsd to the broker", r.e2e.pipeline_rps, rate(r.e2e.pipeline_rps) + " jobs/s"});
    bar_chart(out, "chart-calibration", "jobsd beside this machine's ceilings (per second)", bars);
    out << "<table id=\"calibration\">\n";
    row(out, "jobsd answers per second", "rps", rate(r.run.rps));
    if (c.http.fatal.empty()) {
        row(out,
            "HTTP ceiling (built-in 201 server, " + std::to_string(c.http_threads) + " io thread" +
                (c.http_threads == 1 ? "" : "s") + ") per second",
            "http_ceiling_rps", rate(c.http.rps));
        row(out, "jobsd / HTTP ceiling (%)", "http_fraction", fmt("%.1f", 100 * c.http_fraction));
    } else {
        row(out, "HTTP ceiling", "http_ceiling_error", c.http.fatal);
    }
    if (c.broker && c.broker_error.empty()) {
        row(out, "broker confirmed publishes per second", "broker_rps", rate(c.broker_rps));
        row(out, "jobsd / broker (%)", "broker_fraction", fmt("%.1f", 100 * c.broker_fraction));
    } else if (c.broker) {
        row(out, "broker rate", "broker_error", c.broker_error);
    }
    out << "</table>\n";
}

void e2e_section(std::ostream& out, const e2e_summary& e, std::size_t seconds) {
    chart_line p50{"p50", "p50", {}}, p99{"p99", "p99", {}};
    for (std::size_t i = 0; i < seconds; ++i) {
        const auto s = i < e.series.size() ? e.series[i] : e2e_second{};
        p50.values.push_back(s.p50_ms);
        p99.values.push_back(s.p99_ms);
    }
    line_chart(out, "chart-e2e-time", "Accept to delivery latency by second of delivery (ms)", "ms",
               {p50, p99});
    percentile_section(out, e.latency, "chart-e2e-percentiles",
                       "Accept to delivery latency percentiles (ms)");
    out << "<table id=\"e2e\">\n";
    row(out, "accepted", "accepted", count(e.accepted));
    row(out, "delivered", "delivered", count(e.delivered));
    row(out, "lost", "lost", count(e.lost));
    row(out, "duplicates", "duplicates", count(e.duplicates));
    row(out, "accepted and delivered per second", "pipeline_rps", rate(e.pipeline_rps));
    row(out, "accept→deliver p50 (ms)", "e2e_p50_ms", ms(e.latency.p50_ms));
    row(out, "accept→deliver p99 (ms)", "e2e_p99_ms", ms(e.latency.p99_ms));
    if (!e.error.empty()) row(out, "error", "e2e_error", e.error);
    out << "</table>\n";
}

void cpu_section(std::ostream& out, const std::vector<process_cpu_summary>& cpu) {
    std::vector<chart_bar> bars;
    for (const auto& p : cpu)
        if (p.error.empty()) bars.push_back({p.name, p.us_per_request, us(p.us_per_request) + " µs"});
    bar_chart(out, "chart-cpu", "CPU per request by process (µs, user + system)", bars);
    // CPU seconds per second is the number of cores a process kept busy.
    static const char* const colours[] = {"t", "e", "p50", "p99"};
    std::vector<chart_line> lines;
    for (const auto& p : cpu)
        if (p.error.empty()) lines.push_back({p.name, colours[lines.size() % 4], p.per_second_s});
    line_chart(out, "chart-cpu-time", "CPU by second (cores busy, user + system)", "", lines);
    out << "<table id=\"cpu\">\n<tr><th>process</th><th>pids</th><th>CPU s</th><th>µs per "
           "request</th></tr>\n";
    for (const auto& p : cpu) {
        out << "<tr data-process=\"" << html_escape(p.name) << "\"><td>" << html_escape(p.name) << "</td><td>"
            << pid_list(p.pids) << "</td>";
        if (p.error.empty())
            out << "<td data-field=\"cpu_s\">" << fmt("%.3f", p.cpu_s)
                << "</td><td data-field=\"us_per_request\">" << us(p.us_per_request) << "</td>";
        else
            out << "<td colspan=\"2\" data-field=\"error\">" << html_escape(p.error) << "</td>";
        out << "</tr>\n";
    }
    out << "</table>\n";
}

void time_charts(std::ostream& out, const run_summary& r, std::size_t seconds) {
    chart_line p50{"p50", "p50", {}}, p99{"p99", "p99", {}}, answers{"answers", "t", {}},
        errors{"errors", "e", {}};
    for (std::size_t i = 0; i < seconds; ++i) {
        const auto s = i < r.series.size() ? r.series[i] : second_sample{};
        p50.values.push_back(s.p50_ms);
        p99.values.push_back(s.p99_ms);
        answers.values.push_back(static_cast<double>(s.answers));
        errors.values.push_back(static_cast<double>(s.errors));
    }
    line_chart(out, "chart-latency-time", "Latency by second (ms, p50 and p99)", "ms", {p50, p99});
    line_chart(out, "chart-throughput", "Throughput by second (answers and errors per second)", "/s",
               {answers, errors});
}

void page_head(std::ostream& out, const bench_result& r) {
    out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>jobs-bench: "
        << html_escape(r.run.label + " " + r.run.scenario) << "</title>\n<style>\n"
        << "body{font-family:sans-serif;margin:2em;max-width:60em}"
           "pre{background:#f4f4f4;padding:1em;overflow-x:auto}"
           "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right;border-bottom:1px solid "
           "#ddd}"
           ".b{fill:#3b73b9}.l{font:13px sans-serif;fill:#222}.a{stroke:#444;stroke-width:1}"
           ".t{fill:none;stroke:#3b73b9;stroke-width:2}.e{fill:none;stroke:#c0392b;stroke-width:1.5}"
           ".p50{fill:none;stroke:#2e8b57;stroke-width:2}.p99{fill:none;stroke:#c0392b;stroke-width:2}"
           ".t-k{fill:#3b73b9}.e-k{fill:#c0392b}.p50-k{fill:#2e8b57}.p99-k{fill:#c0392b}"
           ".bad{color:#b00}.ok{color:#070}\n"
        << "</style></head><body>\n<h1>jobs-bench report</h1>\n";
    out << "<p>" << html_escape(r.run.label) << ", scenario <b>" << html_escape(r.run.scenario) << "</b>, "
        << html_escape(r.run.model) << " loop, " << r.run.connections << " connections, " << r.run.threads
        << " threads, " << fmt("%.1f", r.run.duration_s) << " s, target " << html_escape(r.run.target)
        << "</p>\n";
    if (!r.run.fatal.empty()) out << "<p class=\"bad\">Did not run: " << html_escape(r.run.fatal) << "</p>\n";
    if (!r.missed.empty()) {
        out << "<p class=\"bad\">Thresholds missed:</p><ul>";
        for (const auto& m : r.missed) out << "<li>" << html_escape(m) << "</li>";
        out << "</ul>\n";
    } else {
        out << "<p class=\"ok\">No threshold missed.</p>\n";
    }
}

}  // namespace

void write_html_report(std::ostream& out, const bench_result& r) {
    page_head(out, r);
    summary_table(out, r.run);
    // The charts by second share one time axis: the JSON's series, which with --e2e runs on
    // while deliveries come after the load.
    const std::size_t seconds = std::max(r.run.series.size(), r.e2e.enabled ? r.e2e.series.size() : 0);
    time_charts(out, r.run, seconds);
    distribution_section(out, r.run);
    percentile_section(out, r.run.latency, "chart-percentiles",
                       "Latency percentiles (ms, from intended send)");
    if (r.calibration.enabled) calibration_section(out, r);
    if (r.e2e.enabled) e2e_section(out, r.e2e, seconds);
    if (!r.cpu.empty()) cpu_section(out, r.cpu);
    series_table(out, r);
    std::ostringstream table;
    write_text_report(table, r);
    out << "<h3>Terminal table</h3>\n<pre>" << html_escape(table.str()) << "</pre>\n</body></html>\n";
}

}  // namespace jobsd::bench

// Charts are drawn here as SVG paths scaled to fixed viewBoxes; nothing refers to anything
// outside the file (no URL at all is written, not even the SVG namespace's).
#include "bench/jobs_bench/html_report.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "bench/jobs_bench/text_report.hpp"

namespace jobsd::bench {

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

namespace {

std::string fmt(const char* f, auto... args) {
    char buf[256];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

// Horizontal bars, one per percentile, labelled with the value.
void latency_svg(std::ostream& out, const latency_summary& l, const char* title) {
    const std::pair<const char*, double> bars[] = {
        {"p50", l.p50_ms}, {"p90", l.p90_ms}, {"p99", l.p99_ms}, {"p99.9", l.p999_ms}, {"max", l.max_ms}};
    const double top = std::max(1e-6, l.max_ms);
    out << "<h3>" << title
        << "</h3>\n<svg viewBox=\"0 0 640 200\" width=\"640\" height=\"200\" role=\"img\">\n";
    int y = 10;
    for (const auto& [name, v] : bars) {
        const double w = 480 * v / top;
        out << fmt("<text x=\"0\" y=\"%d\" class=\"l\">%s</text>", y + 22, name);
        out << fmt("<rect x=\"60\" y=\"%d\" width=\"%.1f\" height=\"28\" class=\"b\"/>", y + 4,
                   std::max(1.0, w));
        out << fmt("<text x=\"%.1f\" y=\"%d\" class=\"l\">%.3f ms</text>\n", 66 + w, y + 22, v);
        y += 36;
    }
    out << "</svg>\n";
}

// Answers per second as a polyline with axes labelled by their extremes.
void throughput_svg(std::ostream& out, const std::vector<std::uint64_t>& series) {
    out << "<h3>Throughput over time (answers per second)</h3>\n";
    if (series.empty()) {
        out << "<p>No answers.</p>\n";
        return;
    }
    const double top =
        static_cast<double>(std::max<std::uint64_t>(1, *std::max_element(series.begin(), series.end())));
    const double w = 560, h = 200, x0 = 60, y0 = 10;
    const double step = series.size() > 1 ? w / static_cast<double>(series.size() - 1) : 0;
    out << "<svg viewBox=\"0 0 640 250\" width=\"640\" height=\"250\" role=\"img\">\n";
    out << fmt("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"a\"/>", x0, y0, x0, y0 + h);
    out << fmt("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"a\"/>\n", x0, y0 + h, x0 + w,
               y0 + h);
    out << fmt("<text x=\"0\" y=\"%.0f\" class=\"l\">%.0f</text>", y0 + 12, top);
    out << fmt("<text x=\"0\" y=\"%.0f\" class=\"l\">0</text>", y0 + h);
    out << fmt("<text x=\"%.0f\" y=\"%.0f\" class=\"l\">0 s</text>", x0, y0 + h + 24);
    out << fmt("<text x=\"%.0f\" y=\"%.0f\" class=\"l\">%zu s</text>\n", x0 + w - 30, y0 + h + 24,
               series.size());
    out << "<polyline class=\"t\" points=\"";
    for (std::size_t i = 0; i < series.size(); ++i)
        out << fmt("%.1f,%.1f ", x0 + step * static_cast<double>(i),
                   y0 + h - h * static_cast<double>(series[i]) / top);
    out << "\"/>\n</svg>\n";
}

}  // namespace

void write_html_report(std::ostream& out, const bench_result& r) {
    out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>jobs-bench: "
        << html_escape(r.run.label + " " + r.run.scenario) << "</title>\n<style>\n"
        << "body{font-family:sans-serif;margin:2em;max-width:60em}"
           "pre{background:#f4f4f4;padding:1em;overflow-x:auto}"
           ".b{fill:#3b73b9}.l{font:13px sans-serif;fill:#222}.a{stroke:#444;stroke-width:1}"
           ".t{fill:none;stroke:#c0392b;stroke-width:2}.bad{color:#b00}.ok{color:#070}\n"
        << "</style></head><body>\n<h1>jobs-bench report</h1>\n";
    out << "<p>" << html_escape(r.run.label) << ", scenario <b>" << html_escape(r.run.scenario) << "</b>, "
        << html_escape(r.run.model) << " loop, " << r.run.connections << " connections, " << r.run.threads
        << " threads, target " << html_escape(r.run.target) << "</p>\n";
    if (!r.missed.empty()) {
        out << "<p class=\"bad\">Thresholds missed:</p><ul>";
        for (const auto& m : r.missed) out << "<li>" << html_escape(m) << "</li>";
        out << "</ul>\n";
    } else {
        out << "<p class=\"ok\">No threshold missed.</p>\n";
    }
    latency_svg(out, r.run.latency, "Latency percentiles (ms, from intended send)");
    throughput_svg(out, r.run.per_second);
    if (r.e2e.enabled) latency_svg(out, r.e2e.latency, "Accept to delivery latency (ms)");
    std::ostringstream table;
    write_text_report(table, r);
    out << "<h3>Figures</h3>\n<pre>" << html_escape(table.str()) << "</pre>\n</body></html>\n";
}

}  // namespace jobsd::bench

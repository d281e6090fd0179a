// Inline SVG charts for the HTML report: lines over seconds, horizontal bars, and a latency
// distribution on a log-scale axis. Plain text out, no script and no URL (not even SVG's xmlns).
#pragma once

#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/jobs_bench/bench_result.hpp"

namespace jobsd::bench {

// One polyline: values[i] is second i. `css` picks its colour (p50, p99, t, e in the page's style).
struct chart_line {
    std::string name;
    std::string css;
    std::vector<double> values;
};

// One bar with its label and the text printed after it (the figure, formatted by the caller).
struct chart_bar {
    std::string label;
    double value = 0;
    std::string text;
};

// Each chart is an <svg id="`id`"> under an <h3>`title`</h3>; with no data, a <p> saying so.
// Thread safety: pure functions of their arguments.
void line_chart(std::ostream& out, std::string_view id, std::string_view title, std::string_view unit,
                const std::vector<chart_line>& lines);
void bar_chart(std::ostream& out, std::string_view id, std::string_view title,
               const std::vector<chart_bar>& bars);
// Bars of `bins` (counts) placed on a log10 axis of milliseconds labelled at each power of ten.
void log_distribution_chart(std::ostream& out, std::string_view id, std::string_view title,
                            const std::vector<latency_bin>& bins);

// `s` with &, <, >, " escaped for HTML text and attributes.
std::string html_escape(std::string_view s);

// printf into a std::string (up to 255 characters).
std::string fmt(const char* f, auto... args) {
    char buf[256];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

}  // namespace jobsd::bench

// Every chart draws into a 640-wide viewBox: a 60-unit left margin for the y labels, the plot,
// and labels at the extremes of each axis (the tables below the charts hold the exact figures).
#include "bench/jobs_bench/svg_chart.hpp"

#include <algorithm>
#include <cmath>

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

constexpr double x0 = 60, y0 = 10, plot_w = 560, plot_h = 200;

void open_svg(std::ostream& out, std::string_view id, std::string_view title, int height) {
    out << "<h3>" << html_escape(title) << "</h3>\n<svg id=\"" << html_escape(id) << "\" viewBox=\"0 0 640 "
        << height << "\" width=\"640\" height=\"" << height << "\" role=\"img\">\n";
}

void axes(std::ostream& out) {
    out << fmt("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"a\"/>", x0, y0, x0,
               y0 + plot_h);
    out << fmt("<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"a\"/>\n", x0, y0 + plot_h,
               x0 + plot_w, y0 + plot_h);
}

// A "nice" top for a y axis: 1, 2 or 5 times a power of ten, at least `v`.
double nice_top(double v) {
    if (v <= 0) return 1;
    const double p = std::pow(10, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= v) return m * p;
    return 10 * p;
}

}  // namespace

void line_chart(std::ostream& out, std::string_view id, std::string_view title, std::string_view unit,
                const std::vector<chart_line>& lines) {
    std::size_t n = 0;
    double top = 0;
    for (const auto& l : lines) {
        n = std::max(n, l.values.size());
        for (double v : l.values) top = std::max(top, v);
    }
    if (n == 0) {
        out << "<h3>" << html_escape(title) << "</h3>\n<p>No samples.</p>\n";
        return;
    }
    top = nice_top(top);
    open_svg(out, id, title, 250);
    axes(out);
    out << fmt("<text x=\"0\" y=\"%.0f\" class=\"l\">%g</text>", y0 + 12, top);
    out << fmt("<text x=\"0\" y=\"%.0f\" class=\"l\">0 %s</text>", y0 + plot_h, html_escape(unit).c_str());
    out << fmt("<text x=\"%.0f\" y=\"%.0f\" class=\"l\">0 s</text>", x0, y0 + plot_h + 24);
    out << fmt("<text x=\"%.0f\" y=\"%.0f\" class=\"l\">%zu s</text>\n", x0 + plot_w - 30, y0 + plot_h + 24,
               n - 1);
    // One second is one step; a single sample is drawn as a flat line across the plot.
    const double step = n > 1 ? plot_w / static_cast<double>(n - 1) : plot_w;
    double legend_x = x0 + 80;
    for (const auto& l : lines) {
        out << fmt("<text x=\"%.0f\" y=\"%.0f\" class=\"l %s-k\">%s</text>", legend_x, y0 + plot_h + 24,
                   html_escape(l.css).c_str(), html_escape(l.name).c_str());
        legend_x += 20 + 8 * static_cast<double>(l.name.size());
        if (l.values.empty()) continue;
        out << "<polyline class=\"" << html_escape(l.css) << "\" data-series=\"" << html_escape(l.name)
            << "\" points=\"";
        auto y = [&](double v) { return y0 + plot_h - plot_h * v / top; };
        for (std::size_t i = 0; i < l.values.size(); ++i)
            out << fmt("%.1f,%.1f ", x0 + step * static_cast<double>(i), y(l.values[i]));
        if (l.values.size() == 1) out << fmt("%.1f,%.1f", x0 + plot_w, y(l.values[0]));
        out << "\"/>\n";
    }
    out << "</svg>\n";
}

void bar_chart(std::ostream& out, std::string_view id, std::string_view title,
               const std::vector<chart_bar>& bars) {
    if (bars.empty()) {
        out << "<h3>" << html_escape(title) << "</h3>\n<p>Nothing to show.</p>\n";
        return;
    }
    double top = 0;
    for (const auto& b : bars) top = std::max(top, b.value);
    top = std::max(top, 1e-12);
    const int height = 20 + 36 * static_cast<int>(bars.size());
    open_svg(out, id, title, height);
    int y = 10;
    for (const auto& b : bars) {
        const double w = std::max(1.0, 380 * b.value / top);
        out << fmt("<text x=\"0\" y=\"%d\" class=\"l\">%s</text>", y + 22, html_escape(b.label).c_str());
        out << fmt("<rect x=\"170\" y=\"%d\" width=\"%.1f\" height=\"28\" class=\"b\"/>", y + 4, w);
        out << fmt("<text x=\"%.1f\" y=\"%d\" class=\"l\">%s</text>\n", 176 + w, y + 22,
                   html_escape(b.text).c_str());
        y += 36;
    }
    out << "</svg>\n";
}

void log_distribution_chart(std::ostream& out, std::string_view id, std::string_view title,
                            const std::vector<latency_bin>& bins) {
    if (bins.empty()) {
        out << "<h3>" << html_escape(title) << "</h3>\n<p>No samples.</p>\n";
        return;
    }
    const double lo = std::floor(std::log10(bins.front().low_ms));
    const double hi = std::max(lo + 1, std::ceil(std::log10(bins.back().high_ms)));
    std::uint64_t most = 1;
    for (const auto& b : bins) most = std::max(most, b.count);
    auto x = [&](double ms) { return x0 + plot_w * (std::log10(ms) - lo) / (hi - lo); };
    open_svg(out, id, title, 250);
    axes(out);
    out << fmt("<text x=\"0\" y=\"%.0f\" class=\"l\">%llu</text>", y0 + 12,
               static_cast<unsigned long long>(most));
    out << fmt("<text x=\"0\" y=\"%.0f\" class=\"l\">0</text>\n", y0 + plot_h);
    for (double e = lo; e <= hi; ++e)
        out << fmt("<text x=\"%.1f\" y=\"%.0f\" class=\"l\" text-anchor=\"%s\">%g ms</text>",
                   x(std::pow(10, e)), y0 + plot_h + 24,
                   e == lo      ? "start"
                   : e + 1 > hi ? "end"
                                : "middle",
                   std::pow(10, e));
    out << "\n";
    for (const auto& b : bins) {
        const double h = plot_h * static_cast<double>(b.count) / static_cast<double>(most);
        out << fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"b\"/>", x(b.low_ms),
                   y0 + plot_h - h, std::max(0.5, x(b.high_ms) - x(b.low_ms) - 0.5), h);
    }
    out << "\n</svg>\n";
}

}  // namespace jobsd::bench

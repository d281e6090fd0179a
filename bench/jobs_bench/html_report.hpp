// The --html report: one self-contained page (inline CSS and SVG, no scripts, no network) with
// charts of the run and, under each, the table of its figures.
#pragma once

#include <ostream>

#include "bench/jobs_bench/bench_result.hpp"
#include "bench/jobs_bench/svg_chart.hpp"

namespace jobsd::bench {

// Charts (each an <svg id=…>): chart-latency-time (p50/p99 by second), chart-throughput,
// chart-distribution (log-scale ms), chart-percentiles, and when present chart-calibration,
// chart-e2e-time, chart-e2e-percentiles, chart-cpu (µs per request by --watch-pid process) and
// chart-cpu-time (each such process's CPU seconds per second).
// Figures are in cells <td data-field="NAME"> (the JSON's names) of tables #figures,
// #calibration, #e2e, #cpu (rows <tr data-process="NAME">) and #series (rows
// <tr data-second="N">), formatted as: rates "%.0f", latencies in ms "%.3f", µs "%.1f",
// CPU seconds "%.3f", fractions in percent "%.1f".
void write_html_report(std::ostream& out, const bench_result& r);

}  // namespace jobsd::bench

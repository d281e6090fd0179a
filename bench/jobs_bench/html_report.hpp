// The --html report: one self-contained page (inline CSS and SVG, no scripts, no network) with
// the latency percentiles, throughput over time and the counts of the run.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "bench/jobs_bench/bench_result.hpp"

namespace jobsd::bench {

void write_html_report(std::ostream& out, const bench_result& r);

// `s` with &, <, >, " escaped for HTML text and attributes.
std::string html_escape(std::string_view s);

}  // namespace jobsd::bench

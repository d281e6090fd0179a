// The terminal report: a fixed-width table of the run, the e2e figures and the calibration.
#pragma once

#include <ostream>

#include "bench/jobs_bench/bench_result.hpp"

namespace jobsd::bench {

void write_text_report(std::ostream& out, const bench_result& r);

}  // namespace jobsd::bench

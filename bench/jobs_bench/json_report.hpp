// The --json result file: every figure of the run, machine-readable, stable field names.
#pragma once

#include <boost/json/value.hpp>

#include "bench/jobs_bench/bench_result.hpp"

namespace jobsd::bench {

boost::json::value to_json(const bench_result& r);

}  // namespace jobsd::bench

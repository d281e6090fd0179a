// The result of one jobs-bench run as plain data: what the report writers print and the
// thresholds are checked against. Latencies are in milliseconds here.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/jobs_bench/histogram.hpp"
#include "bench/jobs_bench/load_stats.hpp"

namespace jobsd::bench {

struct latency_summary {
    std::uint64_t count = 0;
    double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};
// Percentiles of a histogram of nanoseconds.
latency_summary summarize(const histogram& h);

// One second of the measured phase (the JSON's `series`).
struct second_sample {
    std::uint64_t answers = 0, errors = 0;  // answers of any status; requests without an answer
    double p50_ms = 0, p99_ms = 0;          // of the answers completed in that second
};

// One bar of the latency distribution: samples from low_ms up to high_ms, on bins a quarter of a
// power of two wide (log scale). A histogram bucket goes whole to the bin of its lowest value, so
// a bin may hold values up to one bucket (0.8 %) above high_ms.
struct latency_bin {
    double low_ms = 0, high_ms = 0;
    std::uint64_t count = 0;
};
// The non-empty quarter-octave bins of a histogram of nanoseconds, in increasing order.
std::vector<latency_bin> distribution_of(const histogram& h);

struct run_summary {
    std::string label;     // "jobsd" or "calibration server"
    std::string target;    // URL
    std::string scenario;  // create | get | bad-key
    std::string model;     // closed | open
    unsigned connections = 0, threads = 0;
    double rate = 0;  // open loop: requested req/s
    double duration_s = 0, elapsed_s = 0;
    unsigned expected_status = 201;  // the answer the scenario counts as good
    std::uint64_t sent = 0, answers = 0, good = 0, failures = 0, connects = 0;
    double rps = 0;       // answers of any status per second
    double good_rps = 0;  // answers with expected_status per second
    latency_summary latency;
    std::map<unsigned, std::uint64_t> status;
    std::array<std::uint64_t, error_kind_count> errors{};
    std::array<std::string, error_kind_count> first_error;
    std::vector<std::uint64_t> per_second;
    std::vector<second_sample> series;      // from the first second to the last with an answer or error
    std::vector<latency_bin> distribution;  // of all answers' latencies
    std::string fatal;                      // the run could not take place (e.g. unresolvable host)
};
// Fills the counters, rates and latencies from merged stats.
void fill_counts(run_summary& r, const load_stats& s, double elapsed_s);

// One second of --e2e deliveries, counted from the load's start.
struct e2e_second {
    std::uint64_t delivered = 0;    // first deliveries of accepted jobs in that second
    double p50_ms = 0, p99_ms = 0;  // their accept→deliver latency
};
// The series of a matcher's per-second latencies (nanoseconds).
std::vector<e2e_second> e2e_series_of(const latency_series& s);

struct e2e_summary {
    bool enabled = false;
    std::string exchange;
    double grace_s = 0;
    std::uint64_t accepted = 0, delivered = 0, lost = 0, duplicates = 0, foreign = 0;
    std::uint64_t untracked = 0;  // 201s past the bound on tracked jobs: not judged
    latency_summary latency;      // accept (201 read) → delivery to the bench's queue
    // Jobs accepted *and* delivered per second: delivered / (load start → last delivery, at least
    // the load's duration). Lower than the 201 rate when jobs pile up in jobsd's outbox.
    double pipeline_rps = 0;
    std::vector<e2e_second> series;  // by second of delivery, from the load's start
    std::string error;
};

struct calibration_summary {
    bool enabled = false;
    run_summary http;           // the same load against the built-in 201 server
    unsigned http_threads = 1;  // its io threads (--calibrate-threads)
    double broker_rps = 0;      // confirmed publishes per second
    std::string broker_error;
    bool broker = true;          // false with --calibrate-http: the HTTP ceiling only
    double http_fraction = 0;    // jobsd rps / http ceiling
    double broker_fraction = 0;  // jobsd's pipeline rate with --e2e (else its good rps) / broker rate
};

// The CPU a process (or a group of them) named with --watch-pid used during the measured phase.
struct process_cpu_summary {
    std::string name;
    std::vector<long> pids;
    double cpu_s = 0;                  // user + system seconds from the phase's start to its end
    double us_per_request = 0;         // cpu_s over the phase's answers, in microseconds
    std::vector<double> per_second_s;  // CPU seconds in each (about one) second of the phase
    std::string error;                 // the process was gone at the start or the end: no figure
};

struct thresholds {
    std::optional<double> max_p99_ms;
    std::optional<double> max_p999_ms;
    std::optional<double> min_rps;  // on good_rps
    std::optional<std::uint64_t> max_loss;
    // Fractions of the calibration's ceilings (need --calibrate): jobsd's answers per second over
    // the built-in server's, and jobsd's pipeline rate over the broker's confirmed-publish rate.
    std::optional<double> min_http_fraction;
    std::optional<double> min_broker_fraction;

    bool any() const {
        return max_p99_ms || max_p999_ms || min_rps || max_loss || min_http_fraction || min_broker_fraction;
    }
};

struct bench_result {
    run_summary run;
    e2e_summary e2e;
    calibration_summary calibration;
    std::vector<process_cpu_summary> cpu;  // one per --watch-pid, in the order given
    thresholds limits;
    std::vector<std::string> missed;  // one line per threshold missed
};

// The thresholds `r.limits` that `r` misses, as human sentences; empty when all are met.
// A run that could not take place misses every threshold given.
std::vector<std::string> check_thresholds(const bench_result& r);

// Jobs accepted and delivered per second: `delivered` over the span from the load's start
// (`origin_ns`) to the last delivery, or over `duration_s` when that is longer. 0 without deliveries.
double pipeline_rate(std::uint64_t delivered, double duration_s, std::int64_t origin_ns,
                     std::int64_t last_delivery_ns);

}  // namespace jobsd::bench

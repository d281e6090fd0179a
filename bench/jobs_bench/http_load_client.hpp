// The load generator: keep-alive connections, each one Beast client coroutine, spread over
// `threads` io_contexts; closed loop (as fast as answers come) or open loop (a fixed rate).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "bench/jobs_bench/load_stats.hpp"
#include "bench/jobs_bench/request_set.hpp"

namespace jobsd::bench {

struct load_plan {
    std::string host = "127.0.0.1";
    std::string port = "8080";
    // Threads, each with its own io_context; connections are dealt to them round-robin.
    unsigned threads = 2;
    // Keep-alive connections, each with one request in flight at a time.
    unsigned connections = 64;
    // Requests are started for this long; answers in flight may still arrive within `grace`.
    std::chrono::nanoseconds duration = std::chrono::seconds(10);
    // Open loop at this many requests per second in total; 0 = closed loop.
    double rate = 0;
    // One request (write and whole answer) or one connect must finish within this.
    std::chrono::milliseconds timeout{5000};
    // After `duration`, answers in flight get at most this long; then the run is stopped hard,
    // so a run never lasts past duration + grace (plus a second for the stop itself).
    std::chrono::nanoseconds grace = std::chrono::seconds(5);
    // Keep the uuid and accept time of every 201 (for --e2e and the GET pool).
    bool collect_accepted = false;
    // At most this many accepted jobs are kept per run (with the e2e matcher's map about 150
    // bytes each: 5 million is under 1 GiB, two minutes at 40k req/s); later 201s are counted in
    // load_stats::untracked instead.
    std::size_t accepted_max = 5'000'000;
    // Stop once this many answers have arrived in total; 0 = no limit (time only).
    std::uint64_t request_limit = 0;
    // Bounds on one answer: a server that sends more is counted as malformed.
    std::uint32_t header_limit = 16 * 1024;
    std::uint64_t body_limit = 1024 * 1024;
    // Pause before reconnecting after a failed connect, so a refusing target is not spun on.
    std::chrono::milliseconds reconnect_pause{20};
};

struct load_progress {
    double elapsed_s = 0;
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;
};

struct load_outcome {
    std::unique_ptr<load_stats> stats;  // merged over the threads
    double elapsed_s = 0;               // from the start to the last answer (at least `duration`)
    std::int64_t origin_ns = 0;         // the start, on monotonic_ns()'s clock
    std::string fatal;                  // set when the run could not start (e.g. unresolvable host)
};

// Runs `plan` with requests from `requests` (which must outlive the call). Blocks; calls
// `on_progress` from the calling thread about once a second. Never throws for what the target
// does (failures are counted); returns `fatal` for a host that does not resolve.
load_outcome run_load(const load_plan& plan, const request_set& requests,
                      const std::function<void(const load_progress&)>& on_progress);

// The steady-clock nanoseconds used for accepted_job::accepted_ns and e2e deliveries.
std::int64_t monotonic_ns() noexcept;

}  // namespace jobsd::bench

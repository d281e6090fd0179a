// What one load run measured: latency histogram, answers per status code, failures per kind,
// answers, failures and latencies per second, and (when asked) accepted jobs' uuids and times.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/jobs_bench/histogram.hpp"
#include "bench/jobs_bench/latency_series.hpp"

namespace jobsd::bench {

// Why a request got no HTTP answer.
enum class error_kind : unsigned {
    connect,    // refused, unreachable or timed out while connecting
    timeout,    // no complete answer within the request timeout
    reset,      // the peer closed or reset the connection before the answer was complete
    malformed,  // bytes that are not an HTTP/1.1 response (or over the header/body limits)
};
inline constexpr std::size_t error_kind_count = 4;
std::string_view to_string(error_kind k) noexcept;

struct accepted_job {
    std::array<char, 36> uuid;
    std::int64_t accepted_ns;  // steady clock, from the process's time origin
};

// Thread safety: written by one load thread; `completed` is also read by the progress line.
// The rest is read only after that thread has finished.
struct load_stats {
    histogram latency;                        // nanoseconds, from intended send to complete answer
    std::array<std::uint64_t, 600> status{};  // answers by status code (0..599)
    std::array<std::uint64_t, error_kind_count> errors{};
    std::vector<std::uint64_t> per_second;         // answers completed in each second of the run
    std::vector<std::uint64_t> errors_per_second;  // failures in each second (same length)
    latency_series latency_by_second;              // the latencies again, by second of the answer
    std::vector<accepted_job> accepted;            // 201s with a uuid, when collected
    std::uint64_t untracked = 0;                   // 201s not collected: past load_plan::accepted_max
    std::atomic<std::uint64_t> completed{0};       // answers plus failures so far
    std::atomic<std::uint64_t> failed{0};          // failures so far (the sum of `errors`)
    std::array<std::string, error_kind_count> first_error;  // the first message of each kind
    std::uint64_t sent = 0;
    std::uint64_t connects = 0;       // TCP connections opened
    std::int64_t last_answer_ns = 0;  // latest answer, from the run's start

    void merge(const load_stats& o);
    std::uint64_t answers() const noexcept;
    std::uint64_t failures() const noexcept;
};

}  // namespace jobsd::bench

// Latency percentiles per second of a run without a histogram per second in memory: samples go
// to one histogram for the current second, whose non-empty buckets are kept when another starts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "bench/jobs_bench/histogram.hpp"

namespace jobsd::bench {

// Samples should arrive roughly in time order (each load thread's answers do; the e2e matcher is
// fed deliveries in order): a sample for another second than the current one closes the current
// second's histogram into a sparse copy (a few hundred bucket counts, ~5 KiB), so an out-of-order
// sample costs a scan of the histogram (~4,000 counters) but is never lost or misplaced.
// Memory: one histogram (34 KiB) plus the sparse copies, about 5 KiB per second of the run.
// Thread safety: none; one series per load thread, merged after the threads have finished.
class latency_series {
  public:
    struct second {
        std::uint64_t count = 0;
        std::uint64_t p50 = 0, p99 = 0;  // same unit as the samples (nanoseconds in jobs-bench)
    };

    void record(std::size_t second_index, std::uint64_t value);
    // Adds every sample of `other`, second by second.
    void merge(const latency_series& other);
    // One entry per second from 0 to the last second with a sample; empty seconds have count 0.
    std::vector<second> percentiles() const;

  private:
    using buckets = std::vector<std::pair<std::uint32_t, std::uint64_t>>;  // (index, count), non-zero
    void close_current();
    static void append_buckets(const histogram& h, buckets& out);
    buckets& slot(std::size_t second_index);

    std::vector<buckets> closed_;  // by second
    histogram current_;
    std::size_t current_second_ = 0;
};

}  // namespace jobsd::bench

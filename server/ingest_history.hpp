// The dashboard's recent past: a ring of once-a-second samples of the job counter and the
// POST /jobs/v2 latency histogram, turned into per-interval ingest rates and latency quantiles.
// Pure code (the app feeds it from metrics); no I/O.
// Thread safety: add() and points() may be called from any thread; a mutex guards the ring
// (one add per second, reads only from the operator dashboard).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "server/metrics.hpp"

namespace jobsd::server {

struct ingest_sample {
    std::int64_t at_ms = 0;
    std::uint64_t jobs_created = 0;           // metrics::jobs_created_total()
    metrics::bucket_counts create_latency{};  // metrics::latency_buckets of create_job
};

// What happened between two consecutive samples, stamped with the later one.
struct ingest_point {
    std::int64_t at_ms = 0;
    double jobs_per_second = 0;
    std::uint64_t requests = 0;         // POST /jobs/v2 answered in the interval
    std::optional<double> p50_seconds;  // none when there were no requests
    std::optional<double> p99_seconds;
};

class ingest_history {
  public:
    // Keeps the last `capacity` samples (at least 2).
    explicit ingest_history(std::size_t capacity);

    void add(const ingest_sample& s);

    // One point per pair of consecutive samples, oldest first.
    std::vector<ingest_point> points() const;

  private:
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::vector<ingest_sample> ring_;  // guarded by mutex_; ring_[next_] is the oldest once full
    std::size_t next_ = 0;
};

// The q-quantile (0..1) of observations counted per bucket (not cumulative; `bounds` are the
// upper bounds, one more bucket for +Inf), interpolated linearly inside its bucket as
// Prometheus' histogram_quantile does. None when `counts` are all zero; the highest finite bound
// when the quantile falls in the +Inf bucket.
std::optional<double> bucket_quantile(double q, const metrics::bucket_counts& counts);

}  // namespace jobsd::server

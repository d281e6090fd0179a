// Latency histogram in the HdrHistogram style: log-linear buckets, fixed memory, mergeable.
// Sans-I/O: values are plain integers (jobs-bench records nanoseconds).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace jobsd::bench {

// Values below 2*sub_buckets are counted exactly; above, each power-of-two range is split into
// `sub_buckets` equal buckets, so a reported value is within 1/sub_buckets (0.78%) of the true
// one. Values above max_value are clamped to it (and counted in saturated()).
// Memory: about 4,000 counters (32 KiB) whatever the number of samples.
// Thread safety: none; one histogram per thread, merged after the threads have finished.
class histogram {
  public:
    static constexpr unsigned sub_bucket_bits = 7;
    static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bucket_bits;
    // 2^40 ns is about 18 minutes: far beyond any request deadline jobs-bench allows.
    static constexpr std::uint64_t max_value = (std::uint64_t{1} << 40) - 1;

    histogram();

    void record(std::uint64_t value) noexcept;
    // Adds every sample of `other`; the result is as if all samples had been recorded here.
    void merge(const histogram& other) noexcept;
    // Adds `n` samples to bucket `index` (< bucket_count()), as if each had its highest value:
    // how a histogram is rebuilt from the non-empty buckets another one kept.
    void add_to_bucket(std::size_t index, std::uint64_t n) noexcept;
    void reset() noexcept;

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t saturated() const noexcept { return saturated_; }
    std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
    std::uint64_t max() const noexcept { return max_; }
    double mean() const noexcept;
    // Samples in bucket `index` (< bucket_count()).
    std::uint64_t count_at(std::size_t index) const noexcept { return counts_[index]; }

    // The value at percentile `p` (0..100]: the highest value equivalent to the bucket holding
    // the sample of rank ceil(p/100*count), never above max(). 0 when empty.
    std::uint64_t percentile(double p) const noexcept;

    // Bucket arithmetic, public for the tests.
    static std::size_t index_of(std::uint64_t value) noexcept;
    static std::uint64_t lowest_of(std::size_t index) noexcept;
    static std::uint64_t highest_of(std::size_t index) noexcept;
    static std::size_t bucket_count() noexcept;

  private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    std::uint64_t saturated_ = 0;
    std::uint64_t min_ = ~std::uint64_t{0};
    std::uint64_t max_ = 0;
    long double sum_ = 0;
};

}  // namespace jobsd::bench

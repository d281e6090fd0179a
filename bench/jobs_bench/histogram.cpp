// Log-linear bucket layout: index = value below 2*S; above, 2*S + (shift-1)*S + (top - S) where
// top = value >> shift keeps the sub_bucket_bits+1 most significant bits.
#include "bench/jobs_bench/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace jobsd::bench {

namespace {
constexpr std::uint64_t S = histogram::sub_buckets;
}

std::size_t histogram::bucket_count() noexcept {
    return index_of(max_value) + 1;
}

histogram::histogram() : counts_(bucket_count(), 0) {}

std::size_t histogram::index_of(std::uint64_t v) noexcept {
    if (v < 2 * S) return static_cast<std::size_t>(v);
    const unsigned msb = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= sub_bucket_bits + 1
    const unsigned shift = msb - sub_bucket_bits;
    const std::uint64_t top = v >> shift;  // in [S, 2S)
    return static_cast<std::size_t>(2 * S + (shift - 1) * S + (top - S));
}

std::uint64_t histogram::lowest_of(std::size_t index) noexcept {
    if (index < 2 * S) return index;
    const std::uint64_t shift = (index - 2 * S) / S + 1;
    const std::uint64_t top = (index - 2 * S) % S + S;
    return top << shift;
}

std::uint64_t histogram::highest_of(std::size_t index) noexcept {
    if (index < 2 * S) return index;
    const std::uint64_t shift = (index - 2 * S) / S + 1;
    return lowest_of(index) + (std::uint64_t{1} << shift) - 1;
}

void histogram::record(std::uint64_t v) noexcept {
    if (v > max_value) {
        v = max_value;
        ++saturated_;
    }
    ++counts_[index_of(v)];
    ++count_;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
    sum_ += v;
}

void histogram::merge(const histogram& o) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    saturated_ += o.saturated_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
    sum_ += o.sum_;
}

void histogram::add_to_bucket(std::size_t index, std::uint64_t n) noexcept {
    if (n == 0) return;
    const std::uint64_t v = highest_of(index);
    counts_[index] += n;
    count_ += n;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
    sum_ += static_cast<long double>(v) * n;
}

void histogram::reset() noexcept {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = saturated_ = max_ = 0;
    min_ = ~std::uint64_t{0};
    sum_ = 0;
}

double histogram::mean() const noexcept {
    return count_ ? static_cast<double>(sum_ / count_) : 0.0;
}

std::uint64_t histogram::percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    p = std::clamp(p, 0.0, 100.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::min(highest_of(i), max_);
    }
    return max_;
}

}  // namespace jobsd::bench

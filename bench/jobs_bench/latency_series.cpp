// A second's percentiles come from a histogram rebuilt from its kept buckets (and the current
// histogram, when it is that second's), so they equal those of one histogram per second.
#include "bench/jobs_bench/latency_series.hpp"

#include <algorithm>

namespace jobsd::bench {

void latency_series::append_buckets(const histogram& h, buckets& out) {
    if (h.count() == 0) return;
    for (std::size_t i = 0; i < histogram::bucket_count(); ++i)
        if (const auto n = h.count_at(i)) out.emplace_back(static_cast<std::uint32_t>(i), n);
}

latency_series::buckets& latency_series::slot(std::size_t second_index) {
    if (closed_.size() <= second_index) closed_.resize(second_index + 1);
    return closed_[second_index];
}

void latency_series::close_current() {
    if (current_.count() == 0) return;
    append_buckets(current_, slot(current_second_));
    current_.reset();
}

void latency_series::record(std::size_t second_index, std::uint64_t value) {
    if (second_index != current_second_) {
        close_current();
        current_second_ = second_index;
    }
    current_.record(value);
}

void latency_series::merge(const latency_series& o) {
    for (std::size_t s = 0; s < o.closed_.size(); ++s)
        if (!o.closed_[s].empty()) {
            auto& into = slot(s);
            into.insert(into.end(), o.closed_[s].begin(), o.closed_[s].end());
        }
    if (o.current_.count()) append_buckets(o.current_, slot(o.current_second_));
}

std::vector<latency_series::second> latency_series::percentiles() const {
    std::size_t n = closed_.size();
    if (current_.count()) n = std::max(n, current_second_ + 1);
    std::vector<second> out(n);
    histogram h;
    for (std::size_t s = 0; s < n; ++s) {
        h.reset();
        if (s < closed_.size())
            for (const auto& [index, count] : closed_[s]) h.add_to_bucket(index, count);
        if (s == current_second_)  // by buckets too, so a second's figures never depend on when it closed
            for (std::size_t i = 0; current_.count() && i < histogram::bucket_count(); ++i)
                h.add_to_bucket(i, current_.count_at(i));
        out[s] = {h.count(), h.percentile(50), h.percentile(99)};
    }
    return out;
}

}  // namespace jobsd::bench

// Counters only grow, so an interval's figures are differences of two samples; a counter that
// went down (a restart cannot happen in-process, but be safe) counts as zero.
#include "server/ingest_history.hpp"

#include <algorithm>

namespace jobsd::server {

ingest_history::ingest_history(std::size_t capacity) : capacity_(std::max<std::size_t>(2, capacity)) {
    ring_.reserve(capacity_);
}

void ingest_history::add(const ingest_sample& s) {
    std::lock_guard lock(mutex_);
    if (ring_.size() < capacity_) {
        ring_.push_back(s);
        return;
    }
    ring_[next_] = s;
    next_ = (next_ + 1) % capacity_;
}

std::vector<ingest_point> ingest_history::points() const {
    std::vector<ingest_sample> ordered;
    {
        std::lock_guard lock(mutex_);
        ordered.reserve(ring_.size());
        for (std::size_t i = 0; i < ring_.size(); ++i) ordered.push_back(ring_[(next_ + i) % ring_.size()]);
    }
    const auto delta = [](std::uint64_t later, std::uint64_t earlier) {
        return later > earlier ? later - earlier : 0;
    };
    std::vector<ingest_point> out;
    for (std::size_t i = 1; i < ordered.size(); ++i) {
        const auto& a = ordered[i - 1];
        const auto& b = ordered[i];
        ingest_point p;
        p.at_ms = b.at_ms;
        const double seconds = static_cast<double>(b.at_ms - a.at_ms) / 1000.0;
        if (seconds > 0)
            p.jobs_per_second = static_cast<double>(delta(b.jobs_created, a.jobs_created)) / seconds;
        metrics::bucket_counts counts{};
        for (std::size_t k = 0; k < counts.size(); ++k) {
            counts[k] = delta(b.create_latency[k], a.create_latency[k]);
            p.requests += counts[k];
        }
        p.p50_seconds = bucket_quantile(0.5, counts);
        p.p99_seconds = bucket_quantile(0.99, counts);
        out.push_back(p);
    }
    return out;
}

std::optional<double> bucket_quantile(double q, const metrics::bucket_counts& counts) {
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    if (total == 0) return std::nullopt;
    const auto& bounds = metrics::latency_bounds;
    const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
    double below = 0;
    for (std::size_t b = 0; b < bounds.size(); ++b) {
        const double here = static_cast<double>(counts[b]);
        if (here > 0 && below + here >= rank) {
            const double lower = b == 0 ? 0.0 : bounds[b - 1];
            return lower + (bounds[b] - lower) * ((rank - below) / here);
        }
        below += here;
    }
    return bounds.back();
}

}  // namespace jobsd::server

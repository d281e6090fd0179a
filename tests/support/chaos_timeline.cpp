// Counter analysis for the chaos test: Prometheus text lookup and rise-after-fault detection.
#include "tests/support/chaos_timeline.hpp"

#include <algorithm>
#include <charconv>

namespace jobsd::test {

namespace {

double value_of(const counter_sample& s, counter c) {
    switch (c) {
        case counter::confirmed:
            return s.confirmed;
        case counter::created:
            return s.created;
        case counter::errors:
            return s.errors;
    }
    return 0;
}

// Calls rise(t, amount) for every increase of an instance's counter since its previous sample.
template <class F>
void for_each_rise(const std::vector<counter_sample>& samples, counter c, F rise) {
    std::vector<std::optional<double>> last;  // per instance, its previous value
    for (const auto& s : samples) {
        if (!s.up || s.instance < 0) continue;
        if (static_cast<std::size_t>(s.instance) >= last.size()) last.resize(s.instance + 1);
        const double v = value_of(s, c);
        auto& prev = last[s.instance];
        if (prev && v > *prev) rise(s.t, v - *prev);
        prev = v;  // a restart (v below prev) only sets a new baseline
    }
}

}  // namespace

double metric_value(std::string_view text, std::string_view series) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const auto line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
            auto value = line.substr(series.size() + 1);
            double v = 0;
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec == std::errc()) return v;
        }
    }
    return 0;
}

std::optional<double> first_rise(const std::vector<counter_sample>& samples, int instance, counter c,
                                 double fault, double until) {
    std::optional<double> baseline;
    for (const auto& s : samples) {
        if (s.instance != instance || !s.up || s.t < fault || s.t > until) continue;
        const double v = value_of(s, c);
        if (!baseline || v < *baseline) {
            baseline = v;  // the first sample after the fault, or a restarted process
            continue;
        }
        if (v > *baseline) return s.t - fault;
    }
    return std::nullopt;
}

recovery recovery_after(const std::vector<counter_sample>& samples, const std::vector<int>& instances,
                        counter c, double fault, double until) {
    recovery r;
    bool all = !instances.empty();
    double slowest = 0;
    for (int i : instances) {
        const auto rise = first_rise(samples, i, c, fault, until);
        if (!rise) {
            all = false;
            continue;
        }
        r.any = r.any ? std::min(*r.any, *rise) : *rise;
        slowest = std::max(slowest, *rise);
    }
    if (all) r.every = slowest;
    return r;
}

double longest_gap(const std::vector<counter_sample>& samples, counter c, double from, double until) {
    std::vector<double> rises;
    for_each_rise(samples, c, [&](double t, double) {
        if (t >= from && t <= until) rises.push_back(t);
    });
    std::sort(rises.begin(), rises.end());
    double gap = 0, at = from;
    for (double t : rises) {
        gap = std::max(gap, t - at);
        at = t;
    }
    return std::max(gap, until - at);
}

double total_rise(const std::vector<counter_sample>& samples, counter c, double from, double until) {
    double total = 0;
    for_each_rise(samples, c, [&](double t, double amount) {
        if (t >= from && t <= until) total += amount;
    });
    return total;
}

}  // namespace jobsd::test

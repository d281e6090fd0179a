// Summaries from histograms and counters, and the threshold verdict behind the exit code.
#include "bench/jobs_bench/bench_result.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace jobsd::bench {

latency_summary summarize(const histogram& h) {
    latency_summary s;
    auto ms = [](double ns) { return ns / 1e6; };
    s.count = h.count();
    s.mean_ms = ms(h.mean());
    s.p50_ms = ms(static_cast<double>(h.percentile(50)));
    s.p90_ms = ms(static_cast<double>(h.percentile(90)));
    s.p99_ms = ms(static_cast<double>(h.percentile(99)));
    s.p999_ms = ms(static_cast<double>(h.percentile(99.9)));
    s.max_ms = ms(static_cast<double>(h.max()));
    return s;
}

std::vector<latency_bin> distribution_of(const histogram& h) {
    std::vector<latency_bin> out;
    if (h.count() == 0) return out;
    // Bin k holds [2^(k/4), 2^((k+1)/4)) ns; a histogram bucket goes to the bin of its lowest value.
    auto edge_ms = [](int k) { return std::exp2(k / 4.0) / 1e6; };
    for (std::size_t i = 0; i < histogram::bucket_count(); ++i) {
        const auto n = h.count_at(i);
        if (n == 0) continue;
        const double low = static_cast<double>(std::max<std::uint64_t>(1, histogram::lowest_of(i)));
        const int k = static_cast<int>(std::floor(4 * std::log2(low) + 1e-9));
        if (out.empty() || edge_ms(k) > out.back().low_ms * (1 + 1e-9))
            out.push_back({edge_ms(k), edge_ms(k + 1), 0});
        out.back().count += n;
    }
    return out;
}

std::vector<e2e_second> e2e_series_of(const latency_series& s) {
    std::vector<e2e_second> out;
    for (const auto& p : s.percentiles())
        out.push_back({p.count, static_cast<double>(p.p50) / 1e6, static_cast<double>(p.p99) / 1e6});
    return out;
}

namespace {
std::vector<second_sample> series_of(const load_stats& s) {
    std::vector<second_sample> out;
    const auto latency = s.latency_by_second.percentiles();
    const std::size_t n = std::max(s.per_second.size(), s.errors_per_second.size());
    for (std::size_t i = 0; i < n; ++i) {
        second_sample x;
        x.answers = i < s.per_second.size() ? s.per_second[i] : 0;
        x.errors = i < s.errors_per_second.size() ? s.errors_per_second[i] : 0;
        if (i < latency.size()) {
            x.p50_ms = static_cast<double>(latency[i].p50) / 1e6;
            x.p99_ms = static_cast<double>(latency[i].p99) / 1e6;
        }
        out.push_back(x);
    }
    while (!out.empty() && out.back().answers == 0 && out.back().errors == 0) out.pop_back();
    return out;
}
}  // namespace

void fill_counts(run_summary& r, const load_stats& s, double elapsed_s) {
    r.elapsed_s = elapsed_s;
    r.sent = s.sent;
    r.answers = s.answers();
    r.failures = s.failures();
    r.connects = s.connects;
    r.status.clear();
    for (unsigned c = 0; c < s.status.size(); ++c)
        if (s.status[c]) r.status[c] = s.status[c];
    r.good = r.expected_status < s.status.size() ? s.status[r.expected_status] : 0;
    r.errors = s.errors;
    r.first_error = s.first_error;
    r.latency = summarize(s.latency);
    // Trailing seconds after the last answer are not part of the series.
    r.per_second = s.per_second;
    while (!r.per_second.empty() && r.per_second.back() == 0) r.per_second.pop_back();
    r.series = series_of(s);
    r.distribution = distribution_of(s.latency);
    r.rps = elapsed_s > 0 ? static_cast<double>(r.answers) / elapsed_s : 0;
    r.good_rps = elapsed_s > 0 ? static_cast<double>(r.good) / elapsed_s : 0;
}

std::vector<std::string> check_thresholds(const bench_result& r) {
    std::vector<std::string> out;
    char line[256];
    const auto& l = r.limits;
    const bool ran = r.run.fatal.empty() && r.run.answers > 0;
    if (l.max_p99_ms && (!ran || r.run.latency.p99_ms > *l.max_p99_ms)) {
        std::snprintf(line, sizeof line, "p99 latency %.2f ms is above --max-p99 %.2f ms",
                      r.run.latency.p99_ms, *l.max_p99_ms);
        out.emplace_back(ran ? line : "no answers: --max-p99 cannot be met");
    }
    if (l.max_p999_ms && (!ran || r.run.latency.p999_ms > *l.max_p999_ms)) {
        std::snprintf(line, sizeof line, "p99.9 latency %.2f ms is above --max-p999 %.2f ms",
                      r.run.latency.p999_ms, *l.max_p999_ms);
        out.emplace_back(ran ? line : "no answers: --max-p999 cannot be met");
    }
    if (l.min_rps && (!ran || r.run.good_rps < *l.min_rps)) {
        std::snprintf(line, sizeof line, "%.0f req/s with status %u is below --min-rps %.0f", r.run.good_rps,
                      r.run.expected_status, *l.min_rps);
        out.emplace_back(line);
    }
    if (l.max_loss) {
        if (!r.e2e.enabled) {
            out.emplace_back("--max-loss needs --e2e");
        } else if (!r.e2e.error.empty() && r.e2e.delivered == 0) {
            out.emplace_back("e2e failed (" + r.e2e.error + "): --max-loss cannot be checked");
        } else if (r.e2e.accepted == 0) {
            out.emplace_back("no job was accepted: --max-loss cannot be judged");
        } else if (r.e2e.lost > *l.max_loss) {
            std::snprintf(line, sizeof line, "%llu jobs accepted but not delivered, above --max-loss %llu",
                          static_cast<unsigned long long>(r.e2e.lost),
                          static_cast<unsigned long long>(*l.max_loss));
            out.emplace_back(line);
        }
    }
    const auto& c = r.calibration;
    if (l.min_http_fraction) {
        if (!c.enabled || !c.http.fatal.empty() || c.http.rps <= 0) {
            out.emplace_back("the HTTP ceiling was not measured: --min-http-fraction cannot be judged");
        } else if (!ran || c.http_fraction < *l.min_http_fraction) {
            std::snprintf(line, sizeof line, "%.3f of the HTTP ceiling is below --min-http-fraction %.3f",
                          c.http_fraction, *l.min_http_fraction);
            out.emplace_back(line);
        }
    }
    if (l.min_broker_fraction) {
        if (!c.enabled || !c.broker || !c.broker_error.empty() || c.broker_rps <= 0) {
            out.emplace_back("the broker rate was not measured: --min-broker-fraction cannot be judged");
        } else if (!ran || c.broker_fraction < *l.min_broker_fraction) {
            std::snprintf(line, sizeof line, "%.3f of the broker's rate is below --min-broker-fraction %.3f",
                          c.broker_fraction, *l.min_broker_fraction);
            out.emplace_back(line);
        }
    }
    return out;
}

double pipeline_rate(std::uint64_t delivered, double duration_s, std::int64_t origin_ns,
                     std::int64_t last_delivery_ns) {
    if (delivered == 0 || last_delivery_ns < 0) return 0;
    const double span_s = std::max(duration_s, static_cast<double>(last_delivery_ns - origin_ns) / 1e9);
    return span_s > 0 ? static_cast<double>(delivered) / span_s : 0;
}

}  // namespace jobsd::bench

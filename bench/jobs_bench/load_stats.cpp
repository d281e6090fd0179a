// Merging per-thread stats at the end of a run: counters add, per-second series add by slot.
#include "bench/jobs_bench/load_stats.hpp"

#include <algorithm>

namespace jobsd::bench {

std::string_view to_string(error_kind k) noexcept {
    switch (k) {
        case error_kind::connect:
            return "connect";
        case error_kind::timeout:
            return "timeout";
        case error_kind::reset:
            return "reset";
        case error_kind::malformed:
            return "malformed";
    }
    return "unknown";
}

void load_stats::merge(const load_stats& o) {
    latency.merge(o.latency);
    for (std::size_t i = 0; i < status.size(); ++i) status[i] += o.status[i];
    for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += o.errors[i];
    if (per_second.size() < o.per_second.size()) per_second.resize(o.per_second.size(), 0);
    for (std::size_t i = 0; i < o.per_second.size(); ++i) per_second[i] += o.per_second[i];
    if (errors_per_second.size() < o.errors_per_second.size())
        errors_per_second.resize(o.errors_per_second.size(), 0);
    for (std::size_t i = 0; i < o.errors_per_second.size(); ++i)
        errors_per_second[i] += o.errors_per_second[i];
    latency_by_second.merge(o.latency_by_second);
    accepted.insert(accepted.end(), o.accepted.begin(), o.accepted.end());
    completed += o.completed.load();
    failed += o.failed.load();
    for (std::size_t i = 0; i < first_error.size(); ++i)
        if (first_error[i].empty()) first_error[i] = o.first_error[i];
    sent += o.sent;
    untracked += o.untracked;
    connects += o.connects;
    last_answer_ns = std::max(last_answer_ns, o.last_answer_ns);
}

std::uint64_t load_stats::answers() const noexcept {
    std::uint64_t n = 0;
    for (auto c : status) n += c;
    return n;
}

std::uint64_t load_stats::failures() const noexcept {
    std::uint64_t n = 0;
    for (auto c : errors) n += c;
    return n;
}

}  // namespace jobsd::bench

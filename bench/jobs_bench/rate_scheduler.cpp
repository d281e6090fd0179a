// Intended times are computed as phase + n*interval from the slot count, never by adding
// intervals up, so rounding does not drift over a long run.
#include "bench/jobs_bench/rate_scheduler.hpp"

namespace jobsd::bench {

namespace {
nanos from_seconds(double s) {
    return nanos(static_cast<std::int64_t>(s * 1e9 + 0.5));
}
}  // namespace

rate_scheduler::rate_scheduler(double rate_per_s, unsigned connections, unsigned index, nanos duration)
    : interval_(from_seconds(connections / rate_per_s)),
      phase_(from_seconds(index / rate_per_s)),
      duration_(duration),
      next_(phase_) {}

nanos rate_scheduler::take() noexcept {
    const nanos t = next_;
    ++taken_;
    next_ = phase_ + nanos(static_cast<std::int64_t>(static_cast<long double>(interval_.count()) *
                                                     static_cast<long double>(taken_)));
    return t;
}

std::uint64_t rate_scheduler::backlog(nanos now) const noexcept {
    if (now < next_) return 0;
    return static_cast<std::uint64_t>((now - next_) / interval_) + 1;
}

}  // namespace jobsd::bench

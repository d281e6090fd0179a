// Matches broker deliveries to accepted jobs: accept→deliver latency, loss and duplicates.
// Sans-I/O: fed uuids and steady-clock times by the load run and the consumer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bench/jobs_bench/histogram.hpp"
#include "bench/jobs_bench/latency_series.hpp"

namespace jobsd::bench {

// Thread safety: none; fed from one thread (main) after the load threads have finished.
class e2e_matcher {
  public:
    // `origin_ns`: the load's start on the same clock; latencies are also kept per second of the
    // delivery counted from it (by_second()).
    explicit e2e_matcher(std::int64_t origin_ns = 0) : origin_ns_(origin_ns) {}

    // A 201 for `uuid`, read at `accepted_ns`. A uuid accepted twice is counted once.
    void accept(std::string_view uuid, std::int64_t accepted_ns);
    // A delivery with message_id `uuid` at `delivered_ns`. Deliveries may be fed before or after
    // the matching accept; latency is taken when both are known (negative clamps to 0: the
    // broker can deliver before the 201 is read).
    void deliver(std::string_view uuid, std::int64_t delivered_ns);

    std::uint64_t accepted() const noexcept { return accepted_; }
    std::uint64_t delivered() const noexcept { return delivered_; }            // distinct accepted uuids seen
    std::uint64_t pending() const noexcept { return accepted_ - delivered_; }  // loss, once grace is over
    std::uint64_t duplicates() const noexcept { return duplicates_; }          // deliveries after the first
    std::uint64_t foreign() const noexcept { return foreign_; }                // message ids never accepted
    const histogram& latency() const noexcept { return latency_; }             // nanoseconds
    // The same latencies by second of the first delivery after the origin (fed in delivery order).
    const latency_series& by_second() const noexcept { return by_second_; }
    // When the last accepted job got its first delivery (steady-clock ns); -1 before any.
    std::int64_t last_delivery_ns() const noexcept { return last_delivery_ns_; }

  private:
    struct entry {
        std::int64_t accepted_ns = -1;   // -1: not (yet) accepted
        std::int64_t delivered_ns = -1;  // first delivery; -1: none yet
        std::uint32_t deliveries = 0;
    };
    void settle(entry& e);

    std::unordered_map<std::string, entry> jobs_;
    std::int64_t origin_ns_;
    histogram latency_;
    latency_series by_second_;
    std::uint64_t accepted_ = 0, delivered_ = 0, duplicates_ = 0, foreign_ = 0;
    std::int64_t last_delivery_ns_ = -1;
};

}  // namespace jobsd::bench

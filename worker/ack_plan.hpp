// The acks that settle a set of deliveries of one channel, with no I/O: basic.ack with `multiple`
// settles every delivery of the channel not settled yet up to its tag, so the ones to ack that
// run from the channel's oldest unsettled delivery go as one ack, and the others one by one.
// Deliveries finish out of order (a slow job holds the oldest tag), so the run may be short.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace jobsd::worker {

struct ack_plan {
    std::uint64_t up_to = 0;             // basic.ack(up_to, multiple) first; 0 when none
    std::vector<std::uint64_t> singles;  // then basic.ack(tag, single) for each, ascending
};

// `unsettled`: every delivery tag of the channel neither acked nor rejected yet, in any order;
// `to_ack`: the ones among them to ack now. No unsettled tag outside `to_ack` is ever covered.
ack_plan plan_acks(std::span<const std::uint64_t> unsettled, std::vector<std::uint64_t> to_ack);

}  // namespace jobsd::worker

// The open-loop schedule of one connection: when each request is *meant* to be sent.
// Sans-I/O: times are plain durations from the run's start; the I/O shell sleeps until them.
#pragma once

#include <chrono>
#include <cstdint>

namespace jobsd::bench {

using nanos = std::chrono::nanoseconds;

// A total rate R spread over `connections` connections gives each one a request every
// connections/R seconds; connection k starts at phase k/R so the sends interleave evenly.
// Latency is measured from intended_time(), not from the actual send, so a server that stalls
// is charged for every request it delayed (coordinated-omission correct, like wrk2).
// Thread safety: none; one scheduler per connection.
class rate_scheduler {
  public:
    // Preconditions: rate > 0, connections >= 1, index < connections.
    rate_scheduler(double rate_per_s, unsigned connections, unsigned index, nanos duration);

    // The intended send time of the next request; does not advance.
    nanos next() const noexcept { return next_; }
    // Whether a next request still falls inside the run.
    bool has_next() const noexcept { return next_ < duration_; }
    // Takes the next slot: returns its intended time and moves to the one after.
    nanos take() noexcept;
    // How many slots were taken.
    std::uint64_t taken() const noexcept { return taken_; }
    nanos interval() const noexcept { return interval_; }
    // Slots whose time has passed by `now` and are still to be taken: how far the connection
    // runs behind its schedule.
    std::uint64_t backlog(nanos now) const noexcept;

  private:
    nanos interval_;
    nanos phase_;
    nanos duration_;
    nanos next_;
    std::uint64_t taken_ = 0;
};

}  // namespace jobsd::bench

// Per-job-type pauses of the publisher, with no I/O. A type whose message the broker returned
// (no queue took it: a queue deleted, a binding missing) or nacked (a queue at its length bound
// with reject-publish) is not sent for a while: its jobs stay in the outbox, nothing cycles
// through memory or the broker meanwhile, and other types go on. The pause doubles while the
// type keeps failing and starts short again once one of its messages is confirmed. Time is
// passed in, never read from the clock.
//
// Thread safety: none; owned by the publisher thread (through its relay ledger).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace jobsd::queue {

class type_pauses {
  public:
    using clock = std::chrono::steady_clock;

    struct options {
        // The first pause of a type (amqp.retry_delay_ms), doubling up to `max`
        // (amqp.type_pause_max_ms).
        std::chrono::milliseconds first{1'000};
        std::chrono::milliseconds max{10'000};
    };

    explicit type_pauses(options o) : options_(o) {}

    // A message of `type` failed at `now`: true when this starts a pause (the type was sending),
    // false when the type is paused already.
    bool failed(const std::string& type, clock::time_point now);
    // A message of `type` was confirmed: its next pause starts short again.
    void confirmed(const std::string& type);
    bool paused(const std::string& type) const;
    // Ends the pauses due by `now`; returns the types that may send again.
    std::vector<std::string> release(clock::time_point now);
    // When the next pause ends; max() when none is running.
    clock::time_point next_deadline() const noexcept;
    // The types paused now, for metrics and logs.
    std::vector<std::string> paused_types() const;
    // How long the pause of `type` lasts (the running one, or the next one); for tests.
    std::chrono::milliseconds length(const std::string& type) const;

  private:
    struct state {
        std::chrono::milliseconds length{0};  // of the running pause, or of the last one
        clock::time_point until{};
        bool active = false;
    };

    const options options_;
    std::map<std::string, state> types_;
};

}  // namespace jobsd::queue

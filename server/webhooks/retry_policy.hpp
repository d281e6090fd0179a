// What becomes of a delivery after an attempt: delivered on a 2xx, the endpoint disabled on 410
// Gone, otherwise another attempt after the schedule's next delay (with jitter, and no sooner
// than a Retry-After the receiver sent), or failed once the schedule is spent. Pure code.
// Thread safety: immutable after construction; the caller brings the random draw.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "store/webhook_store.hpp"

namespace jobsd::server::webhooks {

struct retry_decision {
    store::delivery_outcome outcome = store::delivery_outcome::retry;
    std::chrono::milliseconds delay{0};  // retry: from the attempt to the next one
};

class retry_policy {
  public:
    // `schedule[i]` is the delay after the (i+1)-th failed attempt; `jitter` (0..1) spreads each
    // delay uniformly over ±jitter of it, so receivers coming back are not hit all at once.
    retry_policy(std::vector<std::chrono::milliseconds> schedule, double jitter)
        : schedule_(std::move(schedule)), jitter_(jitter) {}

    // The fate of a delivery whose attempt number `attempt` (1 for the first) got `status`
    // (nullopt: no answer). `unit` is a random draw in [0, 1); `retry_after` the receiver's
    // Retry-After, honoured up to a day.
    retry_decision decide(int attempt, std::optional<int> status,
                          std::optional<std::chrono::seconds> retry_after, double unit) const;

    // Attempts at most: the first, then one per delay.
    std::size_t max_attempts() const noexcept { return schedule_.size() + 1; }

  private:
    std::vector<std::chrono::milliseconds> schedule_;
    double jitter_;
};

// The seconds of a Retry-After header in its delay-seconds form; nullopt for anything else (an
// HTTP date is ignored: the schedule's own delay applies).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

}  // namespace jobsd::server::webhooks

// Per-account token buckets for POST /jobs/v2: `rate` jobs per second on average, bursts up
// to `burst`. The bucket arithmetic is plain code (token_bucket), unit-tested with a fake clock.
// Thread safety: rate_limiter may be used from every io thread; buckets live in sharded maps,
// each shard behind its own mutex.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace jobsd::server {

struct rate_decision {
    bool allowed = true;
    std::uint64_t limit = 0;          // the burst size (RateLimit-Limit)
    std::uint64_t remaining = 0;      // whole tokens left after this request (RateLimit-Remaining)
    std::uint64_t reset_s = 0;        // seconds until the bucket is full again (RateLimit-Reset)
    std::uint64_t retry_after_s = 0;  // when refused: seconds until enough tokens are back (Retry-After)
};

class token_bucket {
  public:
    using clock = std::chrono::steady_clock;
    token_bucket(double rate, double burst, clock::time_point now)
        : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

    // Takes `tokens` (all or none; more than the burst never succeeds).
    rate_decision take(clock::time_point now, double tokens = 1.0);

  private:
    double rate_;
    double burst_;
    double tokens_;
    clock::time_point last_;
};

class rate_limiter {
  public:
    // rate 0 disables limiting.
    rate_limiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}

    bool enabled() const noexcept { return rate_ > 0; }
    // One token per job: a batch takes as many as it has jobs, all or none.
    rate_decision take(const std::string& account_id,
                       token_bucket::clock::time_point now = token_bucket::clock::now(), double tokens = 1.0);
    double burst() const noexcept { return burst_; }

  private:
    struct shard {
        std::mutex mu;
        std::unordered_map<std::string, token_bucket> buckets;  // guarded by mu; one per account
    };
    const double rate_;
    const double burst_;
    std::array<shard, 16> shards_;
};

}  // namespace jobsd::server

// Samples every jobsd's /metrics on a thread of its own, so a chaos test can tell afterwards
// when each one accepted and published jobs again after a fault.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/chaos_timeline.hpp"

namespace jobsd::test {

// Thread safety: samples() and now() from any thread; the sampling thread is the only writer.
class metrics_sampler {
  public:
    struct target {
        int instance;
        unsigned short port;  // jobsd's own port on 127.0.0.1 (not the balancer's)
    };
    // Starts sampling at once: every target in turn, then sleeps until `period` has passed.
    // `origin` is time 0 of the samples.
    metrics_sampler(std::vector<target> targets, std::chrono::milliseconds period,
                    std::chrono::steady_clock::time_point origin);
    ~metrics_sampler();  // stops and joins
    metrics_sampler(const metrics_sampler&) = delete;
    metrics_sampler& operator=(const metrics_sampler&) = delete;

    std::vector<counter_sample> samples() const;
    double now() const;  // seconds since origin

  private:
    void run();

    std::vector<target> targets_;
    std::chrono::milliseconds period_;
    std::chrono::steady_clock::time_point origin_;
    mutable std::mutex mutex_;
    std::vector<counter_sample> samples_;  // guarded by mutex_
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace jobsd::test

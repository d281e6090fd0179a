// A stand-in for real work: sleeps, reports progress in steps, fails at a given rate.
// Thread safety: run() may be called from many threads at once.
#pragma once

#include "worker/job_handler.hpp"
#include "worker/worker_options.hpp"

namespace jobsd::worker {

// Sleeps duration/steps per step and reports progress 100*i/steps after step i; then fails
// with "simulated failure" with probability failure_rate, or succeeds with
// {"result_url":"https://example.invalid/<uuid>.mp4","simulated":true}. A stop request ends
// the job at once with "cancelled".
class simulate_handler final : public job_handler {
  public:
    explicit simulate_handler(simulate_options options) : options_(options) {}
    job_outcome run(const job_input& job, progress_reporter& progress, std::stop_token stop) override;

  private:
    const simulate_options options_;
};

}  // namespace jobsd::worker

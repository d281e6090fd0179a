// Runs each job as a shell command: /bin/sh -c COMMAND in a process group of its own, the job
// message on stdin, progress and output read from stdout (see exec_output.hpp), stderr kept
// for the error text. Thread safety: run() may be called from many threads at once.
#pragma once

#include <chrono>

#include "worker/job_handler.hpp"
#include "worker/worker_options.hpp"

namespace jobsd::worker {

// Outcomes: exit 0 → success with the last JSON object line ({} if none); non-zero exit →
// "exit code N: <stderr tail>" (retryable when N is options.retryable_exit_code, 75 by default);
// killed by a signal → "killed by signal N: <stderr tail>"; past `timeout` → the whole process
// group is killed, "timed out after N ms"; stop requested (a cancel, the worker stopping) →
// SIGTERM to the group, SIGKILL after options.kill_grace, "cancelled". When the command exits,
// leftovers in its group are killed too.
class exec_handler final : public job_handler {
  public:
    // Ignores SIGPIPE process-wide (a command that exits without reading stdin must not kill
    // the worker); children get the default disposition back before exec.
    exec_handler(exec_options options, std::chrono::milliseconds timeout);
    job_outcome run(const job_input& job, progress_reporter& progress, std::stop_token stop) override;

  private:
    const exec_options options_;
    const std::chrono::milliseconds timeout_;
};

}  // namespace jobsd::worker

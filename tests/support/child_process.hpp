// Any program run as a child of a test (workers, tools): start, signal, reap.
// Unlike jobsd_process it waits for nothing; output goes to a log file in a given directory.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace jobsd::test {

class child_process {
  public:
    // Starts `binary args…` with stdout and stderr appended to `log_file`. Throws on failure.
    child_process(std::filesystem::path binary, std::vector<std::string> args,
                  std::filesystem::path log_file);
    // SIGKILLs a child still running; never throws.
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }
    bool running();   // false once it has exited (reaps it)
    void kill9();     // SIGKILL and reap
    int terminate();  // SIGTERM, wait up to 15 s (then SIGKILL); the exit status from waitpid
    std::string log() const;

  private:
    pid_t pid_ = -1;
    std::filesystem::path log_file_;
};

}  // namespace jobsd::test

// Runs a command to completion within a deadline, for tests that drive scripts (cluster.sh).
// Output goes to a file, never a pipe, so daemons the command leaves behind cannot hold it open.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace jobsd::test {

struct command_result {
    int exit_code = -1;  // the exit status; -1 when it was killed (deadline) or died by a signal
    bool timed_out = false;
    std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (looked up in PATH) with the arguments, stdin from /dev/null, stdout and stderr
// to `log_file` (appended, and returned as `output`: only what this run wrote). Past `timeout`
// the command's process group gets SIGKILL. Throws std::runtime_error only when it cannot start.
// Thread safety: any thread; each call is independent.
command_result run_command(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                           std::chrono::milliseconds timeout);

}  // namespace jobsd::test

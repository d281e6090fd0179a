// Runs the jobsctl binary as a child against one store URL, stdout and stderr kept apart, for
// black-box tests of the admin CLI on any store adapter.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace jobsd::test {

struct jobsctl_result {
    int code = -1;  // exit status, or 128 + signal
    std::string out;
    std::string err;
};

// jobsctl ($JOBSCTL_BIN) with `--store store_url` before `args` (no --store when store_url is
// empty). Output goes through files in `work_dir`, so no pipe can fill up. Throws
// std::runtime_error when the binary cannot be started.
jobsctl_result run_jobsctl(const std::filesystem::path& work_dir, const std::string& store_url,
                           const std::vector<std::string>& args);

// Exit status, stdout and stderr in one text, for failure messages.
std::string describe(const jobsctl_result& r);

}  // namespace jobsd::test

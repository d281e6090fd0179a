// posix_spawn with stdout and stderr redirected to numbered files in the work directory; the
// child inherits the environment (JOBSD_STORE_URL and the like stay the caller's business).
#include "tests/support/jobsctl_runner.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/jobsd_process.hpp"

extern char** environ;

namespace jobsd::test {

namespace {

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

jobsctl_result run_jobsctl(const std::filesystem::path& work_dir, const std::string& store_url,
                           const std::vector<std::string>& args) {
    static std::atomic<int> runs{0};
    const int n = ++runs;
    const auto out_path = work_dir / ("jobsctl." + std::to_string(n) + ".out");
    const auto err_path = work_dir / ("jobsctl." + std::to_string(n) + ".err");
    std::vector<std::string> argv_s{required_env("JOBSCTL_BIN")};
    if (!store_url.empty()) {
        argv_s.push_back("--store");
        argv_s.push_back(store_url);
    }
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv_s[0] + ": " + std::strerror(rc));
    int status = 0;
    ::waitpid(pid, &status, 0);
    jobsctl_result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_all(out_path);
    r.err = read_all(err_path);
    return r;
}

std::string describe(const jobsctl_result& r) {
    return "exit " + std::to_string(r.code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

}  // namespace jobsd::test

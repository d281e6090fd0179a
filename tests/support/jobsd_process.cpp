// Starts, watches and stops a jobsd child with fork/exec, and owns scratch directories for it.
// Linux-only by design: it relies on pipe2, poll and PR_SET_PDEATHSIG.
#include "tests/support/jobsd_process.hpp"

#include "tests/support/scoped_env.hpp"
#include "tests/support/test_failure.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace jobsd::test {

namespace {

constexpr std::string_view listening_prefix = "jobsd listening on ";

std::string random_suffix() {
    std::random_device rd;
    std::ostringstream out;
    out << std::hex << rd() << rd();
    return out.str();
}

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

exit_info to_exit_info(int status, bool forced) {
    exit_info info;
    info.exited = WIFEXITED(status);
    info.code = info.exited ? WEXITSTATUS(status) : 0;
    info.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    info.forced = forced;
    return info;
}

std::string describe(const exit_info& info) {
    if (info.exited) return "exited with code " + std::to_string(info.code);
    return "killed by signal " + std::to_string(info.signal);
}

}  // namespace

temp_dir::temp_dir(std::string_view prefix) {
    const auto base = std::filesystem::temp_directory_path();
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto candidate = base / (std::string(prefix) + "-" + random_suffix());
        if (std::filesystem::create_directory(candidate)) {
            path_ = std::move(candidate);
            return;
        }
    }
    throw std::runtime_error("cannot create a unique directory under " + base.string());
}

temp_dir::~temp_dir() {
    // A failed test's directory stays, with the logs and files that explain it.
    if (test_failing()) {
        std::cerr << "test failed: kept " << path_.string() << std::endl;
        return;
    }
    // A leftover directory is harmless and must not turn a passing test into a crash.
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string read_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string required_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        throw std::runtime_error(std::string("environment variable ") + name +
                                 " is not set (ctest sets it; see tests/api.cmake)");
    }
    return value;
}

std::filesystem::path test_db(const temp_dir& dir) {
    return dir.path() / "jobs.db";
}

std::unique_ptr<jobsd_process> start_jobsd(const temp_dir& dir, const jobsd_options& options) {
    const std::filesystem::path data = required_env("JOBSD_TEST_DATA");
    std::vector<std::string> args{
        "--config", (options.config.empty() ? data / "jobsd_test.json" : options.config).string(),
        "--port",   "0",
        "--store",  options.store_url.empty() ? "sqlite:" + test_db(dir).string() : options.store_url,
        "--seed",   (options.seed.empty() ? data / "seed_test.json" : options.seed).string()};
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
    // The child inherits the environment at fork: set it around the start, then put it back.
    const scoped_env env(options.env);
    return std::make_unique<jobsd_process>(required_env("JOBSD_BIN"), std::move(args), dir.path());
}

std::unique_ptr<jobsd_process> start_test_jobsd(const temp_dir& dir,
                                                const std::vector<std::pair<std::string, std::string>>& env) {
    jobsd_options options;
    options.env = env;
    return start_jobsd(dir, options);
}

jobsd_process::jobsd_process(std::filesystem::path binary, std::vector<std::string> args,
                             std::filesystem::path work_dir, std::chrono::milliseconds startup_timeout)
    : stderr_path_(work_dir / "jobsd.stderr.log") {
    if (!std::filesystem::exists(binary)) {
        throw std::runtime_error("jobsd binary not found: " + binary.string());
    }

    // Everything the child needs is prepared before fork: between fork and exec only
    // async-signal-safe calls are allowed, since the test process may have other threads.
    std::vector<std::string> argv_storage;
    argv_storage.push_back(binary.string());
    for (auto& arg : args) argv_storage.push_back(std::move(arg));
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string binary_path = binary.string();
    const std::string dir = work_dir.string();

    int out_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
    const int err_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err_fd < 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw_errno("open " + stderr_path_.string());
    }
    const pid_t parent = ::getpid();

    const pid_t child = ::fork();
    if (child < 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        ::close(err_fd);
        throw_errno("fork");
    }
    if (child == 0) {
        // The server must not outlive a test process that ctest kills on timeout.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(126);
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(err_fd, STDERR_FILENO);
        if (::chdir(dir.c_str()) != 0) {
            constexpr char msg[] = "jobsd_process: chdir to the work directory failed\n";
            (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
            ::_exit(126);
        }
        ::execv(binary_path.c_str(), argv.data());
        constexpr char msg[] = "jobsd_process: execv failed\n";
        (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }

    pid_ = child;
    ::close(out_pipe[1]);
    ::close(err_fd);
    stdout_fd_ = out_pipe[0];
    try {
        wait_for_listening_line(startup_timeout);
    } catch (...) {
        if (running()) kill9();
        if (stdout_fd_ >= 0) ::close(stdout_fd_);
        stdout_fd_ = -1;
        throw;
    }
    start_stdout_drain();
}

jobsd_process::~jobsd_process() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
    if (drain_.joinable()) drain_.join();
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
    if (test_failing()) print_log_tail(stderr_path_, 80);  // into the test's output, for CI
}

void jobsd_process::wait_for_listening_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string seen;
    std::size_t line_start = 0;
    for (;;) {
        // Lines other than the listening one are tolerated here; the contract says there are
        // none, but this helper is about startup, not about policing stdout.
        for (auto nl = seen.find('\n', line_start); nl != std::string::npos;
             nl = seen.find('\n', line_start)) {
            std::string_view line(seen.data() + line_start, nl - line_start);
            line_start = nl + 1;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (!line.starts_with(listening_prefix)) continue;
            auto authority = line.substr(listening_prefix.size());
            // http:// for plain HTTP, https:// with TLS on.
            if (const auto scheme = authority.find("://"); scheme != std::string_view::npos)
                authority = authority.substr(scheme + 3);
            if (auto slash = authority.find('/'); slash != std::string_view::npos) {
                authority = authority.substr(0, slash);
            }
            const auto colon = authority.rfind(':');
            if (colon == std::string_view::npos) continue;
            const int port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
            if (port <= 0 || port > 65535) continue;
            host_ = std::string(authority.substr(0, colon));
            port_ = static_cast<unsigned short>(port);
            stdout_text_ = std::move(seen);  // no drain thread yet: no lock needed
            return;
        }

        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            throw std::runtime_error("jobsd did not print its listening line within " +
                                     std::to_string(timeout.count()) + " ms; stdout so far:\n" + seen +
                                     "\nstderr:\n" + stderr_text());
        }
        pollfd pfd{stdout_fd_, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll on jobsd stdout");
        }
        if (ready == 0) continue;
        char chunk[4096];
        const ssize_t n = ::read(stdout_fd_, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read jobsd stdout");
        }
        if (n == 0) {
            // EOF before listening: the child died or closed stdout; either way it is unusable.
            const exit_info info = kill9();
            throw std::runtime_error("jobsd ended before listening (" + describe(info) + "); stdout:\n" +
                                     seen + "\nstderr:\n" + stderr_text());
        }
        seen.append(chunk, static_cast<std::size_t>(n));
    }
}

void jobsd_process::start_stdout_drain() {
    const int fd = stdout_fd_;
    stdout_fd_ = -1;
    drain_ = std::thread([this, fd] {
        char chunk[4096];
        for (;;) {
            const ssize_t n = ::read(fd, chunk, sizeof chunk);
            if (n > 0) {
                const std::lock_guard lock(stdout_mutex_);
                stdout_text_.append(chunk, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            break;
        }
        ::close(fd);
    });
}

exit_info jobsd_process::stop(std::chrono::milliseconds grace) {
    if (!running()) throw std::logic_error("jobsd_process::stop: not running");
    ::kill(pid_, SIGTERM);
    return wait_exit(grace);
}

exit_info jobsd_process::wait_exit(std::chrono::milliseconds limit) {
    if (!running()) {
        if (ended_) return *ended_;
        throw std::logic_error("jobsd_process::wait_exit: not running");
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            ended_ = to_exit_info(status, false);
            return *ended_;
        }
        if (r < 0 && errno != EINTR) throw_errno("waitpid");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    return reap(true);
}

std::optional<exit_info> jobsd_process::check_exit() {
    if (!running()) return ended_;
    int status = 0;
    pid_t r = 0;
    do {
        r = ::waitpid(pid_, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r < 0) throw_errno("waitpid");
    if (r == 0) return std::nullopt;
    pid_ = -1;
    ended_ = to_exit_info(status, false);
    return ended_;
}

std::string jobsd_process::diagnosis() {
    const auto info = check_exit();
    const std::string state = info ? "jobsd " + describe(*info) : "jobsd is still running";
    return state + "; its stderr:\n" + stderr_text();
}

exit_info jobsd_process::kill9() {
    if (!running()) throw std::logic_error("jobsd_process::kill9: not running");
    ::kill(pid_, SIGKILL);
    return reap(false);
}

exit_info jobsd_process::reap(bool forced) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
        if (errno != EINTR) throw_errno("waitpid");
    }
    pid_ = -1;
    ended_ = to_exit_info(status, forced);
    return *ended_;
}

std::string jobsd_process::stdout_text() const {
    const std::lock_guard lock(stdout_mutex_);
    return stdout_text_;
}

std::string jobsd_process::stderr_text() const {
    return read_text(stderr_path_);
}

}  // namespace jobsd::test

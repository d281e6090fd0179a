// A jobsd server run as a child process, for black-box tests that talk to it over HTTP.
// Also the scratch directory each such child works in, so every test run is hermetic.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace jobsd::test {

// A fresh directory under std::filesystem::temp_directory_path(), removed with its contents on
// destruction. Not copyable: exactly one owner removes it.
class temp_dir {
  public:
    // `prefix` only helps a human find leftovers; uniqueness comes from a random suffix.
    explicit temp_dir(std::string_view prefix = "jobsd-test");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// How the child ended, as waitpid reported it.
struct exit_info {
    bool exited = false;  // true: returned from main or called exit(); `code` is meaningful
    int code = 0;
    int signal = 0;       // the terminating signal when !exited
    bool forced = false;  // stop() gave up waiting for SIGTERM and sent SIGKILL
};

// Runs `jobsd` with the given arguments and blocks until it has printed its
// "jobsd listening on http://HOST:PORT" (or https://) line. The child's working directory is `work_dir`
// (relative paths in a config land there) and its stderr goes to `work_dir`/jobsd.stderr.log,
// a file rather than a pipe so a chatty server can never block on a full pipe.
// Stdout is drained by a background thread after the listening line for the same reason, and
// kept for stdout_text().
//
// Thread safety: one owner thread; stderr_text() and stdout_text() may be called from any thread.
class jobsd_process {
  public:
    // Throws std::runtime_error, quoting the child's stderr, if it exits or stays silent for
    // `startup_timeout` before listening.
    jobsd_process(std::filesystem::path binary, std::vector<std::string> args, std::filesystem::path work_dir,
                  std::chrono::milliseconds startup_timeout = std::chrono::seconds(30));
    // SIGKILLs a child that is still running; never throws.
    ~jobsd_process();
    jobsd_process(const jobsd_process&) = delete;
    jobsd_process& operator=(const jobsd_process&) = delete;

    unsigned short port() const { return port_; }
    const std::string& host() const { return host_; }
    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0; }

    // SIGTERM, then waits up to `grace` for the exit; escalates to SIGKILL after that
    // (reported as exit_info::forced). Precondition: running().
    exit_info stop(std::chrono::milliseconds grace = std::chrono::seconds(15));

    // Waits up to `limit` for a child already told to stop (a test's own SIGTERM) to end on its
    // own, sending nothing: a second SIGTERM would find jobsd past its signal handling, in its
    // final teardown. SIGKILL after that (reported as exit_info::forced). Precondition: running().
    exit_info wait_exit(std::chrono::milliseconds limit);

    // SIGKILL and reap, with no chance for the child to flush or clean up: a crash.
    exit_info kill9();

    // Reaps the child if it has ended on its own (a crash the test did not cause); empty while
    // it runs. Once reaped, returns how it ended.
    std::optional<exit_info> check_exit();

    // Whether the child runs or how it ended, plus its stderr: the diagnosis for a failure.
    std::string diagnosis();

    // Everything the child wrote to stderr so far, for failure messages.
    std::string stderr_text() const;

    // Everything the child wrote to stdout so far (the listening line included). Complete once
    // the child has ended and closed its stdout.
    std::string stdout_text() const;

  private:
    exit_info reap(bool forced);
    void wait_for_listening_line(std::chrono::milliseconds timeout);
    void start_stdout_drain();

    std::filesystem::path stderr_path_;
    pid_t pid_ = -1;
    int stdout_fd_ = -1;  // read end of the child's stdout; owned by the drain thread once started
    std::string host_;
    unsigned short port_ = 0;
    std::thread drain_;
    mutable std::mutex stdout_mutex_;
    std::string stdout_text_;         // guarded by stdout_mutex_
    std::optional<exit_info> ended_;  // set once the child has been reaped
};

// The whole content of a file ("" when it cannot be read), for checks and failure messages.
std::string read_text(const std::filesystem::path& file);

// The value of environment variable `name`; throws std::runtime_error naming it when unset or
// empty, since a test without its binary or data cannot say anything useful.
std::string required_env(const char* name);

// How a test jobsd is started; every field has the default most tests want.
struct jobsd_options {
    // --store; empty: a fresh SQLite file in the scratch directory (test_db(dir)).
    std::string store_url;
    // Set for the child only (JOBSD_<SECTION>_<KEY> overrides, LD_PRELOAD, ...).
    std::vector<std::pair<std::string, std::string>> env;
    // --config and --seed; empty: tests/data/jobsd_test.json (publishing off) and seed_test.json.
    std::filesystem::path config;
    std::filesystem::path seed;
    // Appended to the command line (flags override the environment and the file).
    std::vector<std::string> extra_args;
};

// The SQLite file a test jobsd started in `dir` serves unless told otherwise.
std::filesystem::path test_db(const temp_dir& dir);

// jobsd ($JOBSD_BIN) working in `dir`, started as `options` say, listening on a free port.
std::unique_ptr<jobsd_process> start_jobsd(const temp_dir& dir, const jobsd_options& options);

// jobsd on the test config and the test seed, with a fresh SQLite file in `dir`; `env` is set
// for the child only (e.g. JOBSD_SERVER_* limits).
std::unique_ptr<jobsd_process> start_test_jobsd(
    const temp_dir& dir, const std::vector<std::pair<std::string, std::string>>& env = {});

}  // namespace jobsd::test

// fork/exec with O_CLOEXEC pipes (so concurrent jobs never inherit each other's pipe ends and
// hold a stdin open), one poll() loop per job over stdin, stdout, stderr and an eventfd that
// the stop token signals. Between fork and exec the child calls only async-signal-safe
// functions: the parent is multi-threaded.
#include "worker/exec_handler.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "worker/exec_output.hpp"

namespace jobsd::worker {

namespace {

using clock = std::chrono::steady_clock;

// Owns a file descriptor.
class fd_guard {
  public:
    explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
    ~fd_guard() { reset(); }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

  private:
    int fd_;
};

void make_pipe(fd_guard& read_end, fd_guard& write_end) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    read_end.reset(p[0]);
    write_end.reset(p[1]);
}

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Kills the whole group and reaps the child; `pid` leads the group.
int kill_and_reap(pid_t pid) {
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// Asks the whole group to stop (SIGTERM), gives the leader up to `grace` to exit, then kills
// what is left of the group and reaps the leader. WNOWAIT keeps the leader a zombie until the
// group is killed, so its pid (the group id) cannot be reused meanwhile.
int terminate_and_reap(pid_t pid, std::chrono::milliseconds grace) {
    ::kill(-pid, SIGTERM);
    const auto until = clock::now() + grace;
    for (;;) {
        siginfo_t info{};
        const int r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
        if ((r == 0 && info.si_pid == pid) || (r < 0 && errno != EINTR) || clock::now() >= until) break;
        ::usleep(10'000);
    }
    return kill_and_reap(pid);
}

std::string with_tail(std::string head, const std::string& tail) {
    std::string_view t = tail;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
    if (!t.empty()) head += ": " + std::string(t);
    return head;
}

// One running command: its pipes, the wake-up its stop token signals, and what it wrote.
class exec_run {
  public:
    exec_run(const exec_options& options, std::chrono::milliseconds timeout, std::stop_token stop)
        : stop_(stop),
          wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
          on_stop_(stop,
                   [fd = wake_.get()] {
                       const std::uint64_t one = 1;
                       [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
                   }),
          deadline_(clock::now() + timeout),
          timed_out_("timed out after " + std::to_string(timeout.count()) + " ms"),
          kill_grace_(options.kill_grace),
          retryable_exit_code_(options.retryable_exit_code),
          parser_(options.max_line),
          err_tail_(options.stderr_tail) {
        if (wake_.get() < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
        make_pipe(in_r_, in_w_);
        make_pipe(out_r_, out_w_);
        make_pipe(err_r_, err_w_);
    }

    // /bin/sh -c `command` in a process group of its own, its stdio on the pipes.
    void spawn(const std::string& command) {
        sigset_t empty_mask;
        sigemptyset(&empty_mask);
        pid_ = ::fork();
        if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
        if (pid_ == 0) {
            ::setpgid(0, 0);
            ::signal(SIGPIPE, SIG_DFL);
            ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
            ::dup2(in_r_.get(), 0);
            ::dup2(out_w_.get(), 1);
            ::dup2(err_w_.get(), 2);
            ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::setpgid(pid_, pid_);  // also in the parent, so a kill right after fork reaches the group
        in_r_.reset();
        out_w_.reset();
        err_w_.reset();
        set_nonblocking(in_w_.get());
        set_nonblocking(out_r_.get());
        set_nonblocking(err_r_.get());
    }

    // Writes `input` to stdin and reads stdout and stderr until the command closes both; an
    // outcome when it had to be stopped first (cancelled or timed out).
    std::optional<job_outcome> pump(const std::string& input, progress_reporter& progress) {
        auto on_progress = [&](int p) { progress.report(p); };
        std::size_t written = 0;
        if (input.empty()) in_w_.reset();
        while (out_r_.get() >= 0 || err_r_.get() >= 0) {
            if (auto ended = stopped_or_late()) return ended;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - clock::now());
            pollfd fds[4] = {{out_r_.get(), POLLIN, 0},
                             {err_r_.get(), POLLIN, 0},
                             {in_w_.get(), POLLOUT, 0},
                             {wake_.get(), POLLIN, 0}};
            const int n = ::poll(fds, 4, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1000)));
            if (n < 0 && errno != EINTR) {
                const int e = errno;
                kill_and_reap(pid_);
                throw std::system_error(e, std::generic_category(), "poll");
            }
            if (n <= 0) continue;
            if (fds[2].revents) write_input(input, written);
            if (fds[0].revents) read_into(out_r_, [&](std::string_view b) { parser_.feed(b, on_progress); });
            if (fds[1].revents) read_into(err_r_, [&](std::string_view b) { err_tail_.append(b); });
        }
        in_w_.reset();
        parser_.finish(on_progress);
        return std::nullopt;
    }

    // The pipes are closed; waits for the exit within what is left of the deadline. WNOWAIT leaves
    // the child a zombie, so its pid (and group id) cannot be reused by another job's child while
    // leftovers in its group are killed. Then kills what the command left running in the
    // background (usually nothing) and tells the outcome.
    job_outcome finish() {
        for (;;) {
            siginfo_t info{};
            if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) < 0 &&
                errno != EINTR)
                throw std::system_error(errno, std::generic_category(), "waitid");
            if (info.si_pid == pid_) break;
            if (auto ended = stopped_or_late()) return *ended;
            pollfd f{wake_.get(), POLLIN, 0};
            ::poll(&f, 1, 10);
        }
        const int status = kill_and_reap(pid_);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return job_outcome::success(parser_.output());
        if (WIFEXITED(status))
            return job_outcome::failure(
                with_tail("exit code " + std::to_string(WEXITSTATUS(status)), err_tail_.str()),
                retryable_exit_code_ != 0 && WEXITSTATUS(status) == retryable_exit_code_);
        return job_outcome::failure(
            with_tail("killed by signal " + std::to_string(WTERMSIG(status)), err_tail_.str()));
    }

  private:
    // Ends the group when the job was cancelled (SIGTERM, SIGKILL after the grace) or ran past
    // its deadline (SIGKILL).
    std::optional<job_outcome> stopped_or_late() {
        if (stop_.stop_requested()) {
            terminate_and_reap(pid_, kill_grace_);
            return job_outcome::failure("cancelled");
        }
        if (clock::now() >= deadline_) {
            kill_and_reap(pid_);
            return job_outcome::failure(timed_out_);
        }
        return std::nullopt;
    }

    void write_input(const std::string& input, std::size_t& written) {
        const ssize_t w = ::write(in_w_.get(), input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        // Done, or the command closed its stdin (EPIPE): either way no more input.
        if (written == input.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) in_w_.reset();
    }

    template <class Sink>
    void read_into(fd_guard& fd, Sink&& sink) {
        const ssize_t r = ::read(fd.get(), buf_, sizeof buf_);
        if (r > 0)
            sink(std::string_view(buf_, static_cast<std::size_t>(r)));
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            fd.reset();
    }

    std::stop_token stop_;
    fd_guard wake_;
    std::stop_callback<std::function<void()>> on_stop_;
    fd_guard in_r_, in_w_, out_r_, out_w_, err_r_, err_w_;
    pid_t pid_ = -1;
    const clock::time_point deadline_;
    const std::string timed_out_;
    const std::chrono::milliseconds kill_grace_;
    const int retryable_exit_code_;
    exec_output_parser parser_;
    tail_buffer err_tail_;
    char buf_[16384];
};

}  // namespace

exec_handler::exec_handler(exec_options options, std::chrono::milliseconds timeout)
    : options_(std::move(options)), timeout_(timeout) {
    if (options_.command.empty()) throw std::invalid_argument("exec handler: no command");
    ::signal(SIGPIPE, SIG_IGN);
}

job_outcome exec_handler::run(const job_input& job, progress_reporter& progress, std::stop_token stop) {
    const std::string input = job.body.empty() ? boost::json::serialize(job.message) : job.body;
    exec_run command(options_, timeout_, stop);
    command.spawn(options_.command);
    if (auto stopped = command.pump(input, progress)) return *stopped;
    return command.finish();
}

}  // namespace jobsd::worker

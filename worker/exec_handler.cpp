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

// Reads what `fd` has into `take`; closes it at end of file or on a read error.
template <class Take>
void read_some(fd_guard& fd, Take&& take) {
    char buf[16384];
    const ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r > 0)
        take(std::string_view(buf, static_cast<std::size_t>(r)));
    else if (r == 0 || (errno != EAGAIN && errno != EINTR))
        fd.reset();
}

// Forks /bin/sh -c `command` in a process group of its own, with the given pipe ends as its
// stdin, stdout and stderr. Returns the child's pid (its group id).
pid_t spawn(const char* command, int in, int out, int err) {
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) {
        ::setpgid(0, 0);
        ::signal(SIGPIPE, SIG_DFL);
        ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::execl("/bin/sh", "sh", "-c", command, static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also in the parent, so a kill right after fork reaches the group
    return pid;
}

// Waits for the leader's exit, without reaping it: WNOWAIT leaves the child a zombie, so its
// pid (and group id) cannot be reused by another job's child while leftovers in its group are
// killed. Returns the outcome when a stop or the deadline came first (the group is gone then),
// nullopt once the leader has exited.
std::optional<job_outcome> wait_exit(pid_t pid, const std::stop_token& stop, clock::time_point deadline,
                                     int wake, std::chrono::milliseconds grace,
                                     const std::string& timed_out) {
    for (;;) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "waitid");
        if (info.si_pid == pid) return std::nullopt;
        if (stop.stop_requested()) {
            terminate_and_reap(pid, grace);
            return job_outcome::failure("cancelled");
        }
        if (clock::now() >= deadline) {
            kill_and_reap(pid);
            return job_outcome::failure(timed_out);
        }
        pollfd f{wake, POLLIN, 0};
        ::poll(&f, 1, 10);
    }
}

// The failure of a command that ended with wait status `status` (not a clean exit).
job_outcome failure_of(int status, const std::string& err_tail, int retryable_exit_code) {
    if (WIFEXITED(status))
        return job_outcome::failure(with_tail("exit code " + std::to_string(WEXITSTATUS(status)), err_tail),
                                    retryable_exit_code != 0 && WEXITSTATUS(status) == retryable_exit_code);
    return job_outcome::failure(with_tail("killed by signal " + std::to_string(WTERMSIG(status)), err_tail));
}

}  // namespace

exec_handler::exec_handler(exec_options options, std::chrono::milliseconds timeout)
    : options_(std::move(options)), timeout_(timeout) {
    if (options_.command.empty()) throw std::invalid_argument("exec handler: no command");
    ::signal(SIGPIPE, SIG_IGN);
}

job_outcome exec_handler::run(const job_input& job, progress_reporter& progress, std::stop_token stop) {
    const std::string stdin_data = job.body.empty() ? boost::json::serialize(job.message) : job.body;

    fd_guard in_r, in_w, out_r, out_w, err_r, err_w;
    make_pipe(in_r, in_w);
    make_pipe(out_r, out_w);
    make_pipe(err_r, err_w);
    fd_guard wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (wake.get() < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    std::stop_callback on_stop(stop, [fd = wake.get()] {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
    });

    const auto started = clock::now();
    const pid_t pid = spawn(options_.command.c_str(), in_r.get(), out_w.get(), err_w.get());
    in_r.reset();
    out_w.reset();
    err_w.reset();
    set_nonblocking(in_w.get());
    set_nonblocking(out_r.get());
    set_nonblocking(err_r.get());

    const auto deadline = started + timeout_;
    const std::string timed_out = "timed out after " + std::to_string(timeout_.count()) + " ms";
    exec_output_parser parser(options_.max_line);
    tail_buffer err_tail(options_.stderr_tail);
    auto on_progress = [&](int p) { progress.report(p); };
    std::size_t written = 0;
    if (stdin_data.empty()) in_w.reset();

    // Pump the pipes until the command closes stdout and stderr.
    while (out_r.get() >= 0 || err_r.get() >= 0) {
        if (stop.stop_requested()) {
            terminate_and_reap(pid, options_.kill_grace);
            return job_outcome::failure("cancelled");
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) {
            kill_and_reap(pid);
            return job_outcome::failure(timed_out);
        }
        pollfd fds[4] = {{out_r.get(), POLLIN, 0},
                         {err_r.get(), POLLIN, 0},
                         {in_w.get(), POLLOUT, 0},
                         {wake.get(), POLLIN, 0}};
        const int n = ::poll(fds, 4, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1000)));
        if (n < 0 && errno != EINTR) {
            const int e = errno;
            kill_and_reap(pid);
            throw std::system_error(e, std::generic_category(), "poll");
        }
        if (n <= 0) continue;
        if (fds[2].revents) {
            const ssize_t w = ::write(in_w.get(), stdin_data.data() + written, stdin_data.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            // Done, or the command closed its stdin (EPIPE): either way no more input.
            if (written == stdin_data.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) in_w.reset();
        }
        if (fds[0].revents) read_some(out_r, [&](std::string_view b) { parser.feed(b, on_progress); });
        if (fds[1].revents) read_some(err_r, [&](std::string_view b) { err_tail.append(b); });
    }
    in_w.reset();
    parser.finish(on_progress);

    // The pipes are closed; wait for the exit within what is left of the deadline.
    if (auto early = wait_exit(pid, stop, deadline, wake.get(), options_.kill_grace, timed_out))
        return *early;
    // Also kills what the command left running in the background; usually there is nothing.
    const int status = kill_and_reap(pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return job_outcome::success(parser.output());
    return failure_of(status, err_tail.str(), options_.retryable_exit_code);
}

}  // namespace jobsd::worker

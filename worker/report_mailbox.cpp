// The eventfd is non-blocking: a full counter still means "readable", so a failed write is fine.
#include "worker/report_mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace jobsd::worker {

report_mailbox::report_mailbox() {
    fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

report_mailbox::~report_mailbox() {
    ::close(fd_);
}

void report_mailbox::push(job_report report) {
    bool was_empty = false;
    {
        std::lock_guard lock(mu_);
        if (report.what == job_report::kind::progress)
            for (auto& r : reports_)
                if (r.job_id == report.job_id && r.what == job_report::kind::progress) {
                    r.progress = report.progress;
                    return;
                }
        was_empty = reports_.empty();
        reports_.push_back(std::move(report));
    }
    if (was_empty) wake();
}

std::deque<job_report> report_mailbox::take() {
    std::deque<job_report> out;
    std::lock_guard lock(mu_);
    out.swap(reports_);
    return out;
}

void report_mailbox::wake() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}

void report_mailbox::drain_fd() const noexcept {
    std::uint64_t n;
    [[maybe_unused]] auto r = ::read(fd_, &n, sizeof n);
}

}  // namespace jobsd::worker

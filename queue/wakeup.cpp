// An eventfd, non-blocking: a full counter still reads as "raised", so a failed write is fine.
#include "queue/wakeup.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace jobsd::queue {

wakeup::wakeup() {
    fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

wakeup::~wakeup() {
    ::close(fd_);
}

void wakeup::notify() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}

void wakeup::clear() const noexcept {
    std::uint64_t n;
    [[maybe_unused]] auto r = ::read(fd_, &n, sizeof n);
}

}  // namespace jobsd::queue

// The watchdog looks every 100 ms: a stuck send is cut at most that much past its bound.
#include "queue/send_watchdog.hpp"

#include <pthread.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

namespace jobsd::queue {

namespace {

constexpr auto look_every = std::chrono::milliseconds(100);
constexpr auto stopping_limit = std::chrono::milliseconds(1'000);

std::int64_t ticks(send_watchdog::clock::time_point t) {
    return t.time_since_epoch().count();
}

}  // namespace

send_watchdog::send_watchdog(std::chrono::milliseconds limit, std::function<bool()> stopping)
    : limit_(limit), stopping_(std::move(stopping)), thread_([this] { run(); }) {}

send_watchdog::~send_watchdog() {
    {
        std::lock_guard lock(mu_);
        done_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void send_watchdog::watch(int fd, std::string where) {
    std::lock_guard lock(mu_);
    fd_ = fd;
    where_ = std::move(where);
}

void send_watchdog::forget() {
    std::lock_guard lock(mu_);
    fd_ = -1;
}

void send_watchdog::begin_turn() noexcept {
    turn_started_.store(ticks(clock::now()));
}

void send_watchdog::end_turn() noexcept {
    turn_started_.store(0);
}

send_watchdog::quiet_scope::quiet_scope(send_watchdog* w) noexcept : w_(w) {
    if (w_) in_turn_ = w_->turn_started_.exchange(0) != 0;
}

send_watchdog::quiet_scope::~quiet_scope() {
    if (w_ && in_turn_) w_->begin_turn();
}

void send_watchdog::run() {
    ::pthread_setname_np(::pthread_self(), "jobsd-watchdog");
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, look_every, [&] { return done_; })) {
        const auto started = turn_started_.load();
        if (started == 0 || fd_ < 0) continue;
        const auto limit = stopping_() ? std::min(limit_, stopping_limit) : limit_;
        const auto busy = clock::now() - clock::time_point(clock::duration(started));
        if (busy < limit) continue;
        spdlog::warn(
            "broker {}: a send has waited {} ms (the broker reads nothing: a resource alarm?); "
            "dropping the connection",
            where_, std::chrono::duration_cast<std::chrono::milliseconds>(busy).count());
        ::shutdown(fd_, SHUT_RDWR);
        fd_ = -1;  // once per connection
        fired_.fetch_add(1);
    }
}

}  // namespace jobsd::queue

// Waiting for a condition instead of assuming a sleep is enough: the tests run on a busy
// two-core machine, so every wait polls with a generous deadline and reports how long it took.
#pragma once

#include <chrono>
#include <optional>
#include <thread>

namespace jobsd::test {

// Polls `done` every `poll` until it returns true (the time that took) or `limit` passes
// (nullopt). `done` is always asked once more at the deadline.
template <class F>
std::optional<std::chrono::milliseconds> within(
    std::chrono::milliseconds limit, F&& done,
    std::chrono::milliseconds poll = std::chrono::milliseconds(50)) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + limit;
    for (;;) {
        const bool last = std::chrono::steady_clock::now() >= deadline;
        if (done())
            return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                         start);
        if (last) return std::nullopt;
        std::this_thread::sleep_for(poll);
    }
}

// Whether `done` became true within `limit`.
template <class F>
bool wait_until(F&& done, std::chrono::milliseconds limit,
                std::chrono::milliseconds poll = std::chrono::milliseconds(50)) {
    return within(limit, done, poll).has_value();
}

// Polls `remaining` (a count that should fall to zero) every `poll`: true once it is zero, false
// once it has not fallen for `stall`, or at `limit`. For work whose pace is the machine's (a backlog
// draining through a broker on a loaded machine): slow progress is waited for, none is not.
template <class F>
bool wait_draining(F&& remaining, std::chrono::milliseconds stall, std::chrono::milliseconds limit,
                   std::chrono::milliseconds poll = std::chrono::milliseconds(1000)) {
    const auto start = std::chrono::steady_clock::now();
    auto last = remaining();
    auto progressed = start;
    while (last > 0) {
        const auto now = std::chrono::steady_clock::now();
        if (now - progressed >= stall || now - start >= limit) return false;
        std::this_thread::sleep_for(poll);
        const auto left = remaining();
        if (left < last) progressed = std::chrono::steady_clock::now();
        last = left;
    }
    return true;
}

}  // namespace jobsd::test

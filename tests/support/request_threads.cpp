// Each call writes only its own outcome, published to the main thread by join().
#include "tests/support/request_threads.hpp"

#include <algorithm>
#include <stdexcept>

#include "tests/support/metrics.hpp"
#include "tests/support/wait.hpp"

namespace jobsd::test {

request_threads::~request_threads() {
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void request_threads::start(std::function<http_response()> call) {
    auto outcome = std::make_shared<request_outcome>();
    outcomes_.push_back(outcome);
    threads_.emplace_back([this, outcome, call = std::move(call)] {
        try {
            auto res = call();
            outcome->status = res.status;
            outcome->body = std::move(res.body);
        } catch (const std::exception& e) {
            outcome->error = e.what();
        }
        ++ended_;
    });
}

std::vector<request_outcome> request_threads::join() {
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    std::vector<request_outcome> out;
    for (const auto& o : outcomes_) out.push_back(*o);
    return out;
}

std::size_t post_until_queued(request_threads& threads, const std::function<http_response()>& post,
                              http_client& observer, std::size_t queued, std::chrono::milliseconds limit) {
    return post_until_queued(
        threads, post, [&] { return static_cast<std::size_t>(metric(observer, "jobsd_store_write_queue")); },
        queued, limit);
}

std::size_t post_until_queued(request_threads& threads, const std::function<http_response()>& post,
                              const std::function<std::size_t()>& waiting, std::size_t queued,
                              std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::chrono::milliseconds slowest{0};  // a read that waits for the stalled writer shows here
    auto timed = [&] {
        const auto start = std::chrono::steady_clock::now();
        const auto n = waiting();
        slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - start));
        return n;
    };
    std::size_t seen = timed();
    while (seen < queued) {
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error(std::to_string(threads.started()) + " requests started, but only " +
                                     std::to_string(seen) +
                                     " writes wait in the store's queue (the slowest read "
                                     "of the queue took " +
                                     std::to_string(slowest.count()) + " ms)");
        // The first request is taken by the writer, so the queue stays empty: a short look. Each
        // later one stays queued: wait for it (one at a time, so none finds the queue full).
        const auto look =
            threads.started() == 0 ? std::chrono::milliseconds(200) : std::chrono::milliseconds(1500);
        threads.start(post);
        const std::size_t before = seen;
        wait_until([&] { return (seen = timed()) > before; }, look, std::chrono::milliseconds(5));
    }
    return threads.started();
}

}  // namespace jobsd::test

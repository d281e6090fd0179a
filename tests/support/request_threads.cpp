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
        threads, post, [&] { return scrape_metrics(observer); }, queued, limit);
}

namespace {

// What a scrape of jobsd's metrics says of the held calls.
struct held_state {
    std::size_t queued_writes = 0;  // writes waiting in the store's queue (not the one in the writer)
    std::size_t requests = 0;       // requests in flight, the scrape's own not counted
};

held_state read_held_state(const std::map<std::string, double>& m) {
    const auto in_flight = static_cast<std::size_t>(metric(m, "jobsd_http_requests_in_flight"));
    return {static_cast<std::size_t>(metric(m, "jobsd_store_write_queue")),
            in_flight > 0 ? in_flight - 1 : 0};
}

}  // namespace

std::size_t post_until_queued(request_threads& threads, const std::function<http_response()>& post,
                              const std::function<std::map<std::string, double>()>& scrape,
                              std::size_t queued, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::chrono::milliseconds slowest{0};  // a read that waits for the stalled writer shows here
    held_state seen;
    auto timed = [&] {
        const auto start = std::chrono::steady_clock::now();
        seen = read_held_state(scrape());
        slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - start));
    };
    // Done when enough writes wait, a call was started, and every call started has reached jobsd.
    // The queue alone is not enough: jobsd's own writes (a lifecycle sweep) stall behind the test's
    // lock too, and may fill the queue before any call is started; a call still in its handshake is
    // not in flight yet. Not one call per queued write: a queue bound the test set (full at
    // `queued`) would refuse the extra call.
    auto done = [&] {
        return threads.started() > 0 && seen.queued_writes >= queued && seen.requests >= threads.started();
    };
    for (timed(); !done(); timed()) {
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error(std::to_string(threads.started()) + " requests started, " +
                                     std::to_string(seen.requests) + " in flight, and " +
                                     std::to_string(seen.queued_writes) +
                                     " writes wait in the store's queue (the slowest read "
                                     "of the metrics took " +
                                     std::to_string(slowest.count()) + " ms)");
        if (seen.requests < threads.started()) {  // a call on its way: wait for it before another
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        // The first request is taken by the writer, so the queue stays empty: a short look. Each
        // later one stays queued: wait for it (one at a time, so none finds the queue full).
        const auto look =
            threads.started() == 0 ? std::chrono::milliseconds(200) : std::chrono::milliseconds(1500);
        threads.start(post);
        const std::size_t before = seen.queued_writes;
        wait_until(
            [&] {
                timed();
                return seen.queued_writes > before;
            },
            look, std::chrono::milliseconds(5));
    }
    return threads.started();
}

}  // namespace jobsd::test

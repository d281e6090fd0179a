// Requests sent from threads of their own, each on its own connection, for tests that stall
// jobsd (its store, its shutdown) and look at what becomes of the requests in flight.
//
// Thread safety: start(), answered() and join() from the test's main thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"

namespace jobsd::test {

// What became of one request: its answer, or the error that ended it (connection refused,
// reset, timeout) when there was none.
struct request_outcome {
    unsigned status = 0;  // 0 when no answer came
    std::string body;
    std::string error;
};

class request_threads {
  public:
    request_threads() = default;
    ~request_threads();  // joins
    request_threads(const request_threads&) = delete;
    request_threads& operator=(const request_threads&) = delete;

    // Runs `call` on a new thread; an exception it throws becomes the outcome's error.
    void start(std::function<http_response()> call);
    std::size_t started() const { return threads_.size(); }
    // How many calls have ended so far, with an answer or an error.
    std::size_t ended() const { return ended_.load(); }
    // Joins every thread; the outcomes in the order the calls were started.
    std::vector<request_outcome> join();

  private:
    std::vector<std::thread> threads_;
    std::vector<std::shared_ptr<request_outcome>> outcomes_;
    std::atomic<std::size_t> ended_{0};
};

// With jobsd's SQLite writer stalled (a sqlite_write_lock held on its file), starts calls of
// `post` one at a time until at least `queued` writes wait in the store's write queue
// (jobsd_store_write_queue, read through `observer`), at least one call was started, and every
// call started is in flight (jobsd_http_requests_in_flight): one batch in the writer's hands (a
// call, or jobsd's own write) and the rest queued behind it.
// Throws std::runtime_error when that does not happen within `limit`; returns the number of calls
// started.
std::size_t post_until_queued(request_threads& threads, const std::function<http_response()>& post,
                              http_client& observer, std::size_t queued, std::chrono::milliseconds limit);
// The same with the metrics read by `scrape` (e.g. over TLS), parsed as parse_metrics() does.
std::size_t post_until_queued(request_threads& threads, const std::function<http_response()>& post,
                              const std::function<std::map<std::string, double>()>& scrape,
                              std::size_t queued, std::chrono::milliseconds limit);

}  // namespace jobsd::test

// Runs each job on a model server: POSTs the job's "input" as JSON to --model-url with Beast and
// maps the answer to the job's outcome. Thread safety: run() may be called from many threads at once.
#pragma once

#include <boost/json/object.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "worker/job_handler.hpp"
#include "worker/worker_options.hpp"

namespace jobsd::worker {

// The outcome of a model server's answer, without I/O: 2xx with a JSON object body → success with
// that object as the output; 2xx with anything else → failure, not retryable; 429 and 5xx →
// failure, retryable (the server is busy or restarting); any other status → failure, not
// retryable (the server refuses this input). A failure's text is
// "model server answered <status> <reason>: <short reason>", the short reason being the body's
// "error" (or "message"/"detail") string when it is JSON, else the body's first 200 bytes on one line.
job_outcome outcome_of_answer(unsigned status, std::string_view reason, std::string_view body);

// Request: POST <url's path and query>, Content-Type application/json, body = the job's "input"
// object ({} when absent), headers X-Job-Id (the uuid), X-Job-Type and X-Job-Attempt.
// Connections are kept alive and reused, one per job running at once (so at most --concurrency);
// a reused connection the server has closed meanwhile is retried once on a fresh one (jobs are
// idempotent by contract). Failures without an answer: refused/reset/unreachable → retryable
// "model server unreachable: …"; no full answer within options.timeout (connect, send and receive
// together) → retryable "model server timed out after N ms"; an answer body over
// options.max_response_bytes → not retryable "model server answer larger than N bytes". A stop
// request closes the connection at once and returns "cancelled" (the runtime reports CANCELLED).
class http_handler final : public job_handler {
  public:
    // Throws std::invalid_argument when options.url is not an http:// URL with a host.
    explicit http_handler(http_options options);
    ~http_handler() override;
    job_outcome run(const job_input& job, progress_reporter& progress, std::stop_token stop) override;

    struct connection;  // an io_context of its own and a tcp_stream on it (http_handler.cpp)

  private:
    std::unique_ptr<connection> take_idle();
    void keep_idle(std::unique_ptr<connection> c);

    const http_options options_;
    std::string host_;    // for the connection and the Host header
    std::string port_;    // "80" when the URL names none
    std::string target_;  // path and query, "/" when empty
    std::mutex mutex_;
    std::vector<std::unique_ptr<connection>> idle_;  // guarded by mutex_; at most one per pool thread
};

}  // namespace jobsd::worker

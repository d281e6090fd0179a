// The interface a job handler implements: one job in, success with an output object or failure
// with an error text out, progress reported along the way. Everything else is the runtime's job.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>

namespace jobsd::worker {

// One job message of the contract, parsed (see parse_job_message, which builds it with designated
// initializers: every member has an initializer of its own, `{}` where nothing else is meant).
struct job_input {
    std::string uuid{};           // the job's id; also the AMQP message_id
    std::string job_type{};       // e.g. "video"; the worker's type when the message has none
    boost::json::object input;    // the client's request ("input"); empty when absent
    boost::json::object message;  // the whole message: account_id, session_id, created_at, …
    std::string body{};           // the message text exactly as received
    bool redelivered = false;     // the broker delivered it before (a worker died or timed out)
    int contract = 1;             // the message contract version (1 when the message says none)
    int attempt = 1;              // which run of the job this is (a retry keeps the uuid)
    std::optional<std::int64_t> expires_at_ms{};  // not started by then, the job is not run
};

// What a handler returns. Exactly one of `output` (ok) or `error` (not ok) is meaningful.
struct job_outcome {
    bool ok = false;
    boost::json::object output;  // becomes the SUCCESS event's "output"
    std::string error;           // becomes the FAILED event's "error"
    // A failure another attempt may get past (a model server restarting, a full disk being
    // cleaned): jobsd retries the job after a backoff, up to its type's attempts.
    bool retryable = false;

    static job_outcome success(boost::json::object output) { return {true, std::move(output), {}, false}; }
    static job_outcome failure(std::string error, bool retryable = false) {
        return {false, {}, std::move(error), retryable};
    }
};

// Reports progress 0..100 of the job being run. Values outside are clamped, a value not above the
// last one is dropped (progress only rises), rapid updates are coalesced by the runtime, so a
// handler may call it as often as it likes.
// Thread safety: called from the thread that runs the job.
class progress_reporter {
  public:
    virtual ~progress_reporter() = default;
    virtual void report(int percent) = 0;
};

// A job handler. The runtime calls run() on pool threads, several jobs at once: keep per-job
// state on the stack, and make shared state thread-safe.
//
// Contract:
// - Return the outcome; throwing is allowed and becomes a failure with the exception's text.
// - Honour `stop`: it is requested when the job's owner cancels it (the runtime then reports
//   CANCELLED once run() returns), when the job times out (--timeout-ms), when the broker
//   connection is lost (the job will be redelivered) and at shutdown after the grace period.
//   Return promptly then; the outcome is ignored. A handler that ignores it keeps its pool
//   thread busy until it returns.
// - A failure another attempt may cure is job_outcome::failure(text, true): jobsd retries it.
// - Be idempotent: a job can be delivered more than once (see worker/README.md).
class job_handler {
  public:
    virtual ~job_handler() = default;
    virtual job_outcome run(const job_input& job, progress_reporter& progress, std::stop_token stop) = 0;
};

}  // namespace jobsd::worker

// Settings of one jobs-worker process: flags, each also settable as JOBS_WORKER_<FLAG>.
// Parsing is sans-I/O: arguments and an environment lookup in, options or an error out.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "queue/amqp_options.hpp"

namespace jobsd::worker {

struct simulate_options {
    // Total time one simulated job takes, split evenly between the steps.
    std::chrono::milliseconds duration{1'000};
    // IN_PROGRESS events per job (0 = none); bounded at 100 so a job cannot flood the events.
    unsigned steps = 4;
    // Probability 0..1 that a job fails with "simulated failure", to exercise the FAILED path.
    double failure_rate = 0.0;
};

struct exec_options {
    // Run with /bin/sh -c, the job message on stdin. Required for --handler exec.
    std::string command;
    // Bytes of stderr kept for the error text: the tail is what explains a failure.
    std::size_t stderr_tail = 4096;
    // Longest stdout line read; longer lines are skipped (a runaway child cannot exhaust memory).
    std::size_t max_line = 1 << 20;
    // When a job is cancelled (or the worker stops it), its process group gets SIGTERM, then
    // SIGKILL after this grace: 5 s lets a renderer flush and remove temporary files.
    std::chrono::milliseconds kill_grace{5'000};
    // An exit code that makes the failure retryable: 75 is EX_TEMPFAIL ("try again later",
    // sysexits.h). 0 turns it off.
    int retryable_exit_code = 75;
};

struct http_options {
    // The model server's endpoint, POSTed once per job (e.g. http://127.0.0.1:8000/predict).
    // Required for --handler http; http only (put a TLS proxy beside the worker for https).
    std::string url;
    // Longest a job's exchange (connect, send, answer) may take: generation models can run for
    // minutes, so 10 min. --timeout-ms still bounds the whole job, and is shorter by default.
    std::chrono::milliseconds timeout{600'000};
    // Largest answer body read; a larger one fails the job. Outputs are URLs and small metadata,
    // so 1 MiB is ample and a runaway server cannot exhaust the worker's memory.
    std::size_t max_response_bytes = 1 << 20;
};

struct worker_options {
    // The one job type this process serves (one of the seven); required.
    std::string job_type;
    // Jobs run at once: pool threads and the consumer's prefetch. 4 suits a small machine.
    unsigned concurrency = 4;
    // Deliveries held at once, the consumer prefetch; 0: the concurrency. A finished job keeps its
    // delivery until its outcome event is confirmed, so with short jobs a prefetch of the
    // concurrency leaves threads idle while the broker waits for acks; a larger one keeps them
    // busy. The extra deliveries wait here for a thread, out of reach of other workers and of
    // high priority jobs that come later, so keep it at the concurrency for long jobs.
    unsigned prefetch = 0;
    unsigned effective_prefetch() const noexcept { return prefetch != 0 ? prefetch : concurrency; }
    // Broker URLs, names of exchanges and queues, and queue arguments: jobsd's defaults, so
    // both declare the same topology (different arguments would fail with PRECONDITION_FAILED).
    queue::amqp_options amqp;
    // Which handler runs the jobs: "simulate", "exec" or "http" (see handlers.hpp).
    std::string handler = "simulate";
    simulate_options simulate;
    exec_options exec;
    http_options http;
    // A job whose handler runs longer fails with "timed out after N ms"; applies to every handler.
    std::chrono::milliseconds timeout{60'000};
    // On SIGTERM, how long jobs in hand may still finish before the worker exits anyway (they
    // are then redelivered by the broker).
    std::chrono::milliseconds grace{30'000};
    // Unacked status event messages at once; bounds memory if the broker stops confirming.
    std::size_t confirm_window = 256;
    // Events of jobs of contract 3 share messages: at most this many per message (1: one event
    // per message, as for contract 2), and an event waits at most event_linger for others to
    // join it. Each message costs the broker a persistent, confirmed, consumed and acked message,
    // so sharing cuts its work per job; the linger is the latency it costs.
    std::size_t event_batch = 64;
    std::chrono::milliseconds event_linger{5};
    // Cancels remembered for jobs not (yet) held here, so one that arrives later is acked without
    // running; the oldest go first past this many, and none is kept past amqp.control_retention.
    // 100 000 uuids are a few MB.
    std::size_t cancel_memory = 100'000;
    // spdlog level: trace, debug, info, warn, error.
    std::string log_level = "info";
};

// Looks an environment variable up; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

struct parse_result {
    std::optional<worker_options> options;  // set on success
    bool help = false;                      // --help was given
    std::string error;                      // otherwise: what is wrong, for the user
};

// `args` excludes the program name. Flags override the environment, which overrides defaults.
// --url may repeat and takes comma lists; given on the command line it replaces the env value.
parse_result parse_worker_options(std::span<const std::string> args, const env_lookup& env);

// The --help text.
std::string usage_text();

}  // namespace jobsd::worker

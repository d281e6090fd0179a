// The command line of jobs-bench, parsed and validated into one struct before anything runs.
// Sans-I/O: parse_options() takes the arguments and returns options or a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bench/jobs_bench/bench_result.hpp"
#include "bench/jobs_bench/process_cpu.hpp"

namespace jobsd::bench {

struct options {
    // Target: http://HOST:PORT (a path is ignored; the scenario picks it).
    std::string host = "127.0.0.1";
    std::string port = "8080";
    // create: POST /jobs/v2 from the payload mix; get: GET /jobs/:id of jobs created just before;
    // bad-key: POST /jobs/v2 with an invalid key (the 401 path); idle: -c connections that get
    // one answer each (GET /healthz) and are then held open for --hold seconds.
    std::string scenario = "create";
    unsigned connections = 64;                         // -c
    unsigned threads = 2;                              // -t
    double duration_s = 10;                            // -d
    double rate = 0;                                   // -R; 0 = closed loop
    std::chrono::milliseconds timeout{5000};           // --timeout MS, per request
    double grace_s = 5;                                // --grace S, for answers in flight after -d
    std::string payload_file = "conf/bench/mix.json";  // --payload
    std::string api_key;                               // --key; empty = the payload file's
    std::string template_id;                           // --project
    std::string prompt_id;                             // --prompt
    std::uint64_t get_pool = 1000;                     // --get-pool: jobs created before a get run
    // --e2e through the broker.
    bool e2e = false;
    std::string amqp_url = "amqp://guest:guest@127.0.0.1:5673/";  // --amqp
    std::string exchange = "jobs";                                // --exchange
    double e2e_grace_s = 10;                                      // --e2e-grace
    // --webhook-receiver: every job names a built-in receiver as its `webhook`; after the load,
    // up to --e2e-grace for one delivery per created job (jobsd must allow 127.0.0.1).
    bool webhook_receiver = false;
    // --calibrate: built-in 201 server and the broker's confirmed-publish rate.
    bool calibrate = false;
    bool calibrate_broker = true;  // false with --calibrate-http
    // --calibrate-threads: the built-in server's io threads. One by default, the minimal server
    // the targets name; on two cores it answers more under two load threads than two of its own.
    unsigned calibrate_threads = 1;
    double hold_s = 10;                 // --hold: the idle scenario's hold
    std::string queue_type = "quorum";  // --queue-type, for the broker calibration
    std::string json_file, html_file;   // --json, --html
    std::string accepted_file;          // --accepted: every 201's uuid, one a line
    bool progress = true;               // --quiet turns the progress line off
    // --watch-pid NAME=PID[,PID...] (repeatable): processes whose CPU during the measured phase the
    // reports split per request; several pids under one name are summed (a fleet of workers). None by
    // default: only the user knows which processes serve the run.
    std::vector<watched_process> watch;
    thresholds limits;  // --max-p99, --max-p999, --min-rps, --max-loss, --min-*-fraction
};

// Arguments after argv[0]. Returns the options, or a message for the user (usage errors).
// "--help" returns the usage text with help = true.
struct parse_error {
    std::string message;
    bool help = false;
};
std::variant<options, parse_error> parse_options(const std::vector<std::string>& args);

const char* usage_text();

}  // namespace jobsd::bench

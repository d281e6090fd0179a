// The idle scenario: many keep-alive connections that each get one answer and then sit idle,
// to measure what an idle client costs the server (its resident memory, by the caller).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace jobsd::bench {

struct idle_plan {
    std::string host = "127.0.0.1";
    std::string port = "8080";
    unsigned connections = 10'000;
    unsigned threads = 2;
    // Each connection sends `GET path` once, then holds until the run ends.
    std::string path = "/healthz";
    // How long the connections are held once they are all open (or have failed).
    std::chrono::nanoseconds hold = std::chrono::seconds(10);
    // Connect plus the one request-answer must finish within this.
    std::chrono::milliseconds timeout{10'000};
};

struct idle_outcome {
    std::uint64_t answered = 0;      // connections that got their 2xx answer
    std::uint64_t failed = 0;        // connect or request failed (refused, timeout, not 2xx)
    std::uint64_t closed_early = 0;  // answered, then closed by the server during the hold
    std::string first_error;
    std::string fatal;  // the run could not start (unresolvable host)
};

// Opens every connection, calls `on_open(answered)` once all of them have answered or failed,
// holds them for plan.hold, then closes them. Blocks; never throws for what the server does.
idle_outcome hold_idle_connections(const idle_plan& plan, const std::function<void(std::uint64_t)>& on_open);

}  // namespace jobsd::bench

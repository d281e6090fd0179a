// The broker's own confirmed-publish rate for --calibrate: persistent messages into a throwaway
// queue of the same type as jobsd's, a window of unconfirmed publishes, as amqp-publish-bench does.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace jobsd::bench {

struct broker_rate {
    std::uint64_t confirmed = 0;
    std::uint64_t nacked = 0;
    double seconds = 0;
    double per_second = 0;
    std::string error;  // why it could not be measured, or ""
};

struct broker_probe {
    std::string url = "amqp://guest:guest@127.0.0.1:5673/";
    std::chrono::milliseconds duration{5000};
    std::size_t window = 512;           // jobsd's default confirm_window
    std::size_t message_size = 600;     // about one seed-shaped job message
    std::string queue_type = "quorum";  // jobsd's default
};

// Blocks for about probe.duration; never throws (failures land in broker_rate::error).
broker_rate measure_broker_rate(const broker_probe& probe);

}  // namespace jobsd::bench

// What the dispatcher's yield to ingestion watches besides the store's write queue: whether jobs
// are being created while the machine's CPUs have no time to spare (/proc/stat), so that a
// delivery sent now would take CPU from them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace jobsd::server::webhooks {

// The machine's CPU time so far, all CPUs together, in clock ticks: idle (idle and iowait, time no
// task wanted a CPU) and in total.
struct cpu_times {
    std::uint64_t idle = 0;
    std::uint64_t total = 0;
};

// The aggregate "cpu" line of /proc/stat's text; nullopt when it is missing or malformed.
std::optional<cpu_times> parse_cpu_times(std::string_view proc_stat);
// /proc/stat read now; nullopt where there is none (not Linux) or it cannot be read.
std::optional<cpu_times> read_cpu_times();

// One look at the load.
struct load_sample {
    std::chrono::steady_clock::time_point at{};
    std::uint64_t jobs = 0;    // jobs created so far (the store's committed jobs)
    std::uint64_t writes = 0;  // writes waiting for the store's writer now
    std::optional<cpu_times> cpu;
};

// Jobs created per second at least for the machine's busyness to count: below it creates take a
// percent or two of one core, and a delivery waiting for them would gain them nothing.
inline constexpr double yield_min_creates_per_second = 200;

// Whether, from one look to the next, jobs were created (yield_min_creates_per_second or more)
// while the CPUs were idle less than idle_percent of the time. False when idle_percent is 0, the
// looks are not in order, or either has no CPU times.
bool creates_short_of_cpu(const load_sample& from, const load_sample& to, unsigned idle_percent);

}  // namespace jobsd::server::webhooks

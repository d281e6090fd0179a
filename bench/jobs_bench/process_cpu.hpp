// CPU time of the processes named with --watch-pid NAME=PID[,PID...], read from /proc/<pid>/stat
// (user plus system time) before, during (once a second) and after the measured phase. A name
// with several pids (a fleet of workers) stands for their sum.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/jobs_bench/bench_result.hpp"

namespace jobsd::bench {

struct watched_process {
    std::string name;        // as the reports show it (jobsd, rabbitmq, workers, ...)
    std::vector<long> pids;  // one or more; the group's CPU is their sum
};

// utime + stime, in clock ticks, from the text of a /proc/<pid>/stat; nullopt when malformed.
// The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
std::optional<std::uint64_t> parse_stat_cpu_ticks(std::string_view stat);

// CPU seconds `pid` has used so far; nullopt when it is gone or cannot be read.
std::optional<double> process_cpu_seconds(long pid);

// CPU seconds a group has used so far: the sum over `pids`, or the first pid that is gone.
struct group_cpu {
    std::optional<double> seconds;
    long missing = 0;  // when seconds is empty
};
group_cpu group_cpu_seconds(const std::vector<long>& pids);

// The pids as the reports list them: "41, 42".
std::string pid_list(const std::vector<long>& pids);

// Thread safety: none; used by the thread that runs the measured phase.
class cpu_watch {
  public:
    // Takes the "before" sample of each process.
    explicit cpu_watch(std::vector<watched_process> processes);
    // A sample about one second after the previous one (from the load's progress callback):
    // each process's CPU in that second goes to its per-second series.
    void sample_second();
    // The "after" sample: CPU seconds over the phase and per request (`requests` answers).
    std::vector<process_cpu_summary> finish(std::uint64_t requests);

  private:
    struct watched {
        watched_process process;
        std::optional<double> first, last;  // cumulative CPU seconds
        std::vector<double> per_second;
        long missing_at_start = 0;  // when first is empty
    };
    std::vector<watched> watched_;
};

}  // namespace jobsd::bench

// /proc/<pid>/stat is read whole (one short line) at each sample; a process that is gone by the
// end is reported with an error instead of a figure, never as zero CPU (in a group, one gone
// process leaves the whole group without a figure: a part of a sum is not the sum).
#include "bench/jobs_bench/process_cpu.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace jobsd::bench {

std::optional<std::uint64_t> parse_stat_cpu_ticks(std::string_view stat) {
    const auto close = stat.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view rest = stat.substr(close + 1);
    // Fields after the command: state(3) ... utime(14) stime(15), so tokens 11 and 12 from state.
    std::uint64_t sum = 0;
    for (int token = 0; token <= 12; ++token) {
        const auto begin = rest.find_first_not_of(' ');
        if (begin == std::string_view::npos) return std::nullopt;
        rest.remove_prefix(begin);
        const auto end = std::min(rest.find(' '), rest.size());
        if (token >= 11) {
            std::uint64_t v = 0;
            const auto [p, ec] = std::from_chars(rest.data(), rest.data() + end, v);
            if (ec != std::errc() || p != rest.data() + end) return std::nullopt;
            sum += v;
        }
        rest.remove_prefix(end);
    }
    return sum;
}

std::optional<double> process_cpu_seconds(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    if (!f) return std::nullopt;
    std::ostringstream text;
    text << f.rdbuf();
    const auto ticks = parse_stat_cpu_ticks(text.str());
    static const long per_second = ::sysconf(_SC_CLK_TCK);
    if (!ticks || per_second <= 0) return std::nullopt;
    return static_cast<double>(*ticks) / static_cast<double>(per_second);
}

group_cpu group_cpu_seconds(const std::vector<long>& pids) {
    double sum = 0;
    for (const long pid : pids) {
        const auto s = process_cpu_seconds(pid);
        if (!s) return {std::nullopt, pid};
        sum += *s;
    }
    return {sum, 0};
}

std::string pid_list(const std::vector<long>& pids) {
    std::string out;
    for (const long pid : pids) out += (out.empty() ? "" : ", ") + std::to_string(pid);
    return out;
}

cpu_watch::cpu_watch(std::vector<watched_process> processes) {
    for (auto& p : processes) {
        watched w{std::move(p), {}, {}, {}, 0};
        const auto start = group_cpu_seconds(w.process.pids);
        w.first = w.last = start.seconds;
        w.missing_at_start = start.missing;
        watched_.push_back(std::move(w));
    }
}

void cpu_watch::sample_second() {
    for (auto& w : watched_) {
        const auto now = group_cpu_seconds(w.process.pids).seconds;
        if (!now || !w.last) continue;
        w.per_second.push_back(*now - *w.last);
        w.last = now;
    }
}

std::vector<process_cpu_summary> cpu_watch::finish(std::uint64_t requests) {
    std::vector<process_cpu_summary> out;
    for (auto& w : watched_) {
        process_cpu_summary s;
        s.name = w.process.name;
        s.pids = w.process.pids;
        const auto end = group_cpu_seconds(w.process.pids);
        if (!w.first)
            s.error = "no process " + std::to_string(w.missing_at_start) + " at the start";
        else if (!end.seconds)
            s.error = "process " + std::to_string(end.missing) + " ended during the run";
        else {
            const double end_s = *end.seconds;
            s.cpu_s = end_s - *w.first;
            s.us_per_request = requests ? s.cpu_s * 1e6 / static_cast<double>(requests) : 0;
            if (w.last) w.per_second.push_back(end_s - *w.last);  // the last, partial second
            s.per_second_s = std::move(w.per_second);
        }
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace jobsd::bench

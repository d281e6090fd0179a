#include "server/webhooks/yield_signal.hpp"

#include <charconv>
#include <fstream>
#include <string>

namespace jobsd::server::webhooks {

// "cpu  user nice system idle iowait irq softirq steal guest guest_nice": guest time is already
// inside user and nice, so the first eight fields are the whole.
std::optional<cpu_times> parse_cpu_times(std::string_view text) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    if (!line.starts_with("cpu ")) return std::nullopt;
    line.remove_prefix(4);
    cpu_times t;
    int fields = 0;
    while (fields < 8) {
        while (line.starts_with(' ')) line.remove_prefix(1);
        if (line.empty()) break;
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
        if (ec != std::errc{} || (end != line.data() + line.size() && *end != ' ')) return std::nullopt;
        line.remove_prefix(static_cast<std::size_t>(end - line.data()));
        t.total += v;
        if (fields == 3 || fields == 4) t.idle += v;
        ++fields;
    }
    if (fields < 5) return std::nullopt;  // not even up to iowait
    return t;
}

std::optional<cpu_times> read_cpu_times() {
    std::ifstream in("/proc/stat");
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return parse_cpu_times(line);
}

bool creates_short_of_cpu(const load_sample& from, const load_sample& to, unsigned idle_percent) {
    if (idle_percent == 0 || !from.cpu || !to.cpu || to.at <= from.at || to.jobs < from.jobs) return false;
    if (to.cpu->total <= from.cpu->total || to.cpu->idle < from.cpu->idle) return false;
    const double seconds = std::chrono::duration<double>(to.at - from.at).count();
    if (static_cast<double>(to.jobs - from.jobs) < yield_min_creates_per_second * seconds) return false;
    const auto idle = static_cast<double>(to.cpu->idle - from.cpu->idle);
    const auto total = static_cast<double>(to.cpu->total - from.cpu->total);
    return idle * 100.0 < total * static_cast<double>(idle_percent);
}

}  // namespace jobsd::server::webhooks

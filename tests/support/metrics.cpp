// A sample line is `NAME[{LABELS}] VALUE`; the value is the text after the last space.
#include "tests/support/metrics.hpp"

#include <sstream>
#include <stdexcept>

namespace jobsd::test {

std::map<std::string, double> parse_metrics(std::string_view text) {
    std::map<std::string, double> samples;
    std::istringstream lines{std::string(text)};
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.front() == '#') continue;
        const auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
}

std::map<std::string, double> scrape_metrics(http_client& client) {
    const auto res = client.get("/metrics");
    if (res.status != 200)
        throw std::runtime_error("GET /metrics answered " + std::to_string(res.status) + ": " + res.body);
    return parse_metrics(res.body);
}

double metric(const std::map<std::string, double>& samples, const std::string& name) {
    const auto it = samples.find(name);
    if (it == samples.end()) throw std::runtime_error("metric " + name + " is missing from /metrics");
    return it->second;
}

double metric(http_client& client, const std::string& name) {
    return metric(scrape_metrics(client), name);
}

}  // namespace jobsd::test

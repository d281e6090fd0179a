// Reading jobsd's GET /metrics (Prometheus text) in tests: every sample by its full name, and one
// sample that must be there, so a renamed or missing metric fails loudly instead of reading as 0.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "tests/support/http_client.hpp"

namespace jobsd::test {

// Every sample of a Prometheus text exposition by its full name, labels included, e.g.
// `jobsd_http_responses_total{code="201"}`. Comment lines are skipped.
std::map<std::string, double> parse_metrics(std::string_view text);

// GET /metrics on `client`, parsed. Throws std::runtime_error when the answer is not 200.
std::map<std::string, double> scrape_metrics(http_client& client);

// One sample; throws std::runtime_error naming it when it is absent.
double metric(const std::map<std::string, double>& samples, const std::string& name);
double metric(http_client& client, const std::string& name);

}  // namespace jobsd::test

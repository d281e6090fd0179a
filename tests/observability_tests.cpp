// What an operator reads: every log line is one JSON object, and every answer carries the
// request id (the client's X-Request-Id, or one made for it).
#define BOOST_TEST_MODULE observability
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"

using namespace jobsd::test;
namespace http = boost::beast::http;

namespace {

struct server_fixture {
    temp_dir dir{"jobsd-obs"};
    std::unique_ptr<jobsd_process> server = start_test_jobsd(dir);
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(request_ids_are_echoed_or_made, server_fixture) {
    http_client c(server->host(), server->port());
    auto given = c.request(http::verb::get, "/healthz", {{"X-Request-Id", "trace-42"}});
    BOOST_TEST(given.header("X-Request-Id") == "trace-42");
    auto made = c.get("/healthz");
    BOOST_TEST(made.header("X-Request-Id").size() == 36u);
    auto other = c.get("/healthz");
    BOOST_TEST(other.header("X-Request-Id") != made.header("X-Request-Id"));
    // An id with spaces or control characters is not echoed back as is.
    auto odd = c.request(http::verb::get, "/healthz", {{"X-Request-Id", "a b"}});
    BOOST_TEST(odd.header("X-Request-Id") != "a b");
    BOOST_TEST(!odd.header("X-Request-Id").empty());
}

BOOST_FIXTURE_TEST_CASE(every_log_line_is_a_json_object, server_fixture) {
    {
        http_client c(server->host(), server->port());
        BOOST_REQUIRE_EQUAL(c.get("/healthz").status, 200);
    }
    server->stop();
    std::istringstream lines(server->stderr_text());
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        boost::system::error_code ec;
        auto v = boost::json::parse(line, ec);
        BOOST_TEST_CONTEXT(line) {
            BOOST_REQUIRE(!ec);
            BOOST_REQUIRE(v.is_object());
            BOOST_TEST(v.as_object().contains("time"));
            BOOST_TEST(v.as_object().contains("level"));
            BOOST_TEST(v.as_object().contains("msg"));
        }
        ++n;
    }
    BOOST_TEST(n >= 2u);  // at least the seed line and the stop line
}

namespace {

// The samples of a Prometheus text exposition, checked line by line against the format:
// every sample belongs to a family declared by a TYPE line before it.
std::map<std::string, double> parse_exposition(const std::string& text) {
    static const std::regex sample(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? ([-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\+Inf|NaN))$)");
    static const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
    std::set<std::string> families;
    std::map<std::string, double> samples;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (line.rfind("# HELP ", 0) == 0) continue;
        if (std::regex_match(line, m, type_line)) {
            families.insert(m[1]);
            continue;
        }
        BOOST_TEST_REQUIRE(std::regex_match(line, m, sample), "not an exposition line: " << line);
        std::string family = m[1];
        for (auto suffix : {"_bucket", "_sum", "_count"})
            if (!families.count(family) && family.size() > std::strlen(suffix) &&
                family.compare(family.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
                family.resize(family.size() - std::strlen(suffix));
        BOOST_TEST(families.count(family) == 1u, "no TYPE before " << line);
        samples[std::string(m[1]) + std::string(m[2])] = m[4] == "+Inf" ? HUGE_VAL : std::stod(m[4]);
    }
    return samples;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(metrics_are_valid_exposition_and_move_with_traffic, server_fixture) {
    http_client c(server->host(), server->port());
    const std::string body = R"({"job_type":"tts","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e"})";
    BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", "key-a-5d1c8e7f2b9a4c6e", body).status, 201);
    auto before = parse_exposition(c.get("/metrics").body);
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", "key-a-5d1c8e7f2b9a4c6e", body).status, 201);
    auto after = parse_exposition(c.get("/metrics").body);

    const std::string count = R"(jobsd_http_request_duration_seconds_count{route="create_job"})";
    BOOST_TEST(after[count] - before[count] == 5);
    BOOST_TEST(after[R"(jobsd_jobs_created_total{job_type="tts"})"] - before[R"(jobsd_jobs_created_total{job_type="tts"})"] == 5);
    BOOST_TEST(after["jobsd_store_jobs_committed_total"] - before["jobsd_store_jobs_committed_total"] == 5);
    BOOST_TEST(after[R"(jobsd_http_responses_total{code="201"})"] == 6);
    // Buckets are cumulative and end at the count.
    double previous = 0;
    for (const char* le : {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
                           "2.5", "5", "+Inf"}) {
        const double v = after[std::string(R"(jobsd_http_request_duration_seconds_bucket{route="create_job",le=")") + le + "\"}"];
        BOOST_TEST(v >= previous, "bucket le=" << le << " below the one before");
        previous = v;
    }
    BOOST_TEST(previous == after[count]);
    BOOST_TEST(after[R"(jobsd_http_request_duration_seconds_sum{route="create_job"})"] > 0);
}

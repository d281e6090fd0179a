// What an operator reads: every log line is one JSON object, and every answer carries the
// request id (the client's X-Request-Id, or one made for it).
#define BOOST_TEST_MODULE observability
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

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

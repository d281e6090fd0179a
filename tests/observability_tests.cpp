// What an operator reads: every log line is one JSON object, and every answer carries the
// request id (the client's X-Request-Id, or one made for it).
#define BOOST_TEST_MODULE observability
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/loopback_port.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/wait.hpp"

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
    static const std::regex type_line(
        R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
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
    BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", seed::key_a, body).status, 201);
    auto before = parse_exposition(c.get("/metrics").body);
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", seed::key_a, body).status, 201);
    auto after = parse_exposition(c.get("/metrics").body);

    const std::string count = R"(jobsd_http_request_duration_seconds_count{route="create_job"})";
    BOOST_TEST(after[count] - before[count] == 5);
    BOOST_TEST(after[R"(jobsd_jobs_created_total{job_type="tts"})"] -
                   before[R"(jobsd_jobs_created_total{job_type="tts"})"] ==
               5);
    BOOST_TEST(after["jobsd_store_jobs_committed_total"] - before["jobsd_store_jobs_committed_total"] == 5);
    BOOST_TEST(after[R"(jobsd_http_responses_total{code="201"})"] == 6);
    // Buckets are cumulative and end at the count.
    double previous = 0;
    for (const char* le : {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                           "0.5", "1", "2.5", "5", "+Inf"}) {
        const double v =
            after[std::string(R"(jobsd_http_request_duration_seconds_bucket{route="create_job",le=")") + le +
                  "\"}"];
        BOOST_TEST(v >= previous, "bucket le=" << le << " below the one before");
        previous = v;
    }
    BOOST_TEST(previous == after[count]);
    BOOST_TEST(after[R"(jobsd_http_request_duration_seconds_sum{route="create_job"})"] > 0);
}

namespace {

constexpr std::string_view customer_key = seed::key_a;
using seed::operator_key;
constexpr std::string_view project_a1 = "468ea7a0-66e1-4357-a760-236e54167f3e";

std::string job_of(std::string_view type) {
    return std::string(R"({"job_type":")") + std::string(type) + R"(","template_id":")" +
           std::string(project_a1) + "\"}";
}

// Job counts re-read at most every 100 ms, so a scrape right after posting sees the new jobs.
struct counting_fixture {
    temp_dir dir{"jobsd-obs"};
    std::unique_ptr<jobsd_process> server =
        start_test_jobsd(dir, {{"JOBSD_SERVER_JOB_COUNTS_REFRESH_MS", "100"}});
};

// The metrics after the job-count cache has expired (it is read anew on this scrape).
std::map<std::string, double> scrape_after_refresh(http_client& c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return parse_exposition(c.get("/metrics").body);
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(jobs_per_status_per_type_gauge_shows_posted_jobs, counting_fixture) {
    http_client c(server->host(), server->port());
    auto before = scrape_after_refresh(c);
    const std::string video_queued = R"(jobsd_jobs{job_type="video",status="QUEUED"})";
    const std::string tts_queued = R"(jobsd_jobs{job_type="tts",status="QUEUED"})";
    BOOST_TEST(before.at(video_queued) == 0);  // every pair is written, zeros included
    BOOST_TEST(before.at(R"(jobsd_jobs{job_type="pdf",status="FAILED"})") == 0);
    for (int i = 0; i < 3; ++i)
        BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", customer_key, job_of("video")).status, 201);
    BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", customer_key, job_of("tts")).status, 201);

    auto after = scrape_after_refresh(c);
    BOOST_TEST(after.at(video_queued) == 3);
    BOOST_TEST(after.at(tts_queued) == 1);
    BOOST_TEST(after.at(R"(jobsd_jobs{job_type="video",status="SUCCESS"})") == 0);
    // Publishing is off in the test config: the four jobs wait in the outbox, and it says so.
    BOOST_TEST(after.at("jobsd_outbox_unpublished") == 4);
    BOOST_TEST(after.at("jobsd_outbox_oldest_age_seconds") >= 0);
    BOOST_TEST(after.at("jobsd_store_transactions_total") >= 1);
}

BOOST_FIXTURE_TEST_CASE(lookups_on_the_io_thread_are_counted, counting_fixture) {
    http_client c(server->host(), server->port());
    auto created = c.post("/jobs/v2", customer_key, job_of("video"));
    BOOST_REQUIRE_EQUAL(created.status, 201);
    const std::string uuid(created.json().at("job").at("uuid").as_string());
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE_EQUAL(c.get("/jobs/" + uuid, customer_key).status, 200);
    auto m = parse_exposition(c.get("/metrics").body);
    const double ran = m.at(R"(jobsd_store_inline_lookups_total{outcome="ran"})");
    const double declined = m.at(R"(jobsd_store_inline_lookups_total{outcome="declined"})");
    // Each GET is one lookup, on the io thread unless the page cache lacked its pages.
    BOOST_TEST(ran + declined == 3);
    BOOST_TEST(ran >= 1);
}

BOOST_FIXTURE_TEST_CASE(operator_routes_refuse_missing_and_customer_keys, server_fixture) {
    http_client c(server->host(), server->port());
    for (std::string_view target : {"/api/queues", "/api/dashboard"}) {
        BOOST_TEST_CONTEXT(target) {
            auto none = c.get(target);
            BOOST_TEST(none.status == 401u);
            BOOST_TEST(none.json().at("message").as_string() == "Operator key required (x-api-key header)");
            auto customer = c.get(target, customer_key);
            BOOST_TEST(customer.status == 403u);
            BOOST_TEST(std::string(customer.json().at("message").as_string()).find("operator key") !=
                       std::string::npos);
            BOOST_TEST(c.get(target, "not-a-key").status == 401u);
        }
    }
    // With publishing off there is no broker to read: 503 with the reason, at once.
    auto queues = c.get("/api/queues", operator_key);
    BOOST_TEST(queues.status == 503u);
    BOOST_TEST(std::string(queues.json().at("message").as_string()).find("amqp.enabled") !=
               std::string::npos);
    // The operator key opens no customer route.
    BOOST_TEST(c.get("/api/provider/projects/active", operator_key).status == 401u);
}

BOOST_FIXTURE_TEST_CASE(queue_view_answers_503_when_the_broker_is_unreachable, temp_dir) {
    // A port nothing listens on for both the AMQP and the management URL.
    const std::string port = std::to_string(unused_loopback_port());
    auto server = start_test_jobsd(
        *this, {{"JOBSD_AMQP_ENABLED", "true"},
                {"JOBSD_AMQP_URLS", "amqp://guest:guest@127.0.0.1:" + port + "/"},
                {"JOBSD_AMQP_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:" + port + "/"}});
    http_client c(server->host(), server->port(), std::chrono::seconds(10));
    auto res = c.get("/api/queues", operator_key);
    BOOST_TEST(res.status == 503u);
    BOOST_TEST(
        std::string(res.json().at("message").as_string()).find("cannot connect to the management API") !=
        std::string::npos);
    BOOST_TEST(!res.header("Retry-After").empty());
    // The dashboard still answers, with the reason in place of the queues.
    auto dash = c.get("/api/dashboard", operator_key);
    BOOST_REQUIRE_EQUAL(dash.status, 200u);
    BOOST_TEST(dash.json().at("queues").is_null());
    BOOST_TEST(!dash.json().at("queues_error").as_string().empty());
    BOOST_TEST(dash.json().at("broker").as_string() == "down");
}

// Each thread says what it does in top -H, ps -L and perf (/proc/PID/task/TID/comm); the main
// thread, io thread 0, keeps the process's name, so pgrep and ps still find jobsd.
BOOST_FIXTURE_TEST_CASE(threads_are_named_by_their_job, temp_dir) {
    // Publishing on, its broker away: the queue threads start anyway.
    auto server = start_test_jobsd(
        *this, {{"JOBSD_SERVER_THREADS", "2"},
                {"JOBSD_AMQP_ENABLED", "true"},
                {"JOBSD_AMQP_URLS",
                 "amqp://guest:guest@127.0.0.1:" + std::to_string(unused_loopback_port()) + "/"}});
    const std::multiset<std::string> wanted{"jobsd",           "jobsd-io",      "jobsd-writer",
                                            "jobsd-reader",    "jobsd-events",  "jobsd-control",
                                            "jobsd-publisher", "jobsd-signals", "jobsd-dns"};
    std::multiset<std::string> names;
    // A thread names itself as it starts, which may be just after jobsd answers.
    within(std::chrono::seconds(10), [&] {
        names.clear();
        const auto tasks = std::filesystem::path("/proc") / std::to_string(server->pid()) / "task";
        for (const auto& task : std::filesystem::directory_iterator(tasks)) {
            std::ifstream comm(task.path() / "comm");
            std::string name;
            if (std::getline(comm, name)) names.insert(name);
        }
        return std::includes(names.begin(), names.end(), wanted.begin(), wanted.end());
    });
    for (const auto& name : wanted) BOOST_TEST(names.count(name) >= 1u, name << " among the threads");
    BOOST_TEST(names.count("jobsd") == 1u);     // only the main thread keeps the process's name
    BOOST_TEST(names.count("jobsd-io") == 1u);  // server.threads 2: the main thread and one more
}

BOOST_FIXTURE_TEST_CASE(dashboard_data_and_page, counting_fixture) {
    http_client c(server->host(), server->port());
    for (int i = 0; i < 2; ++i)
        BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", customer_key, job_of("image")).status, 201);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto res = c.get("/api/dashboard", operator_key);
    BOOST_REQUIRE_EQUAL(res.status, 200u);
    const auto data = res.json().as_object();
    BOOST_TEST(data.at("broker").as_string() == "disabled");
    BOOST_TEST(data.at("outbox").at("unpublished").to_number<int>() == 2);
    const auto& recent = data.at("recent_jobs").as_array();
    BOOST_REQUIRE_EQUAL(recent.size(), 2u);
    BOOST_TEST(recent[0].at("job_type").as_string() == "image");
    BOOST_TEST(recent[0].at("job_status").as_string() == "QUEUED");
    BOOST_TEST(recent[0].at("account_id").as_string() == "acc_a");
    bool found = false;
    for (const auto& t : data.at("jobs").as_array())
        if (t.at("job_type").as_string() == "image") {
            found = true;
            BOOST_TEST(t.at("counts").at("QUEUED").to_number<int>() == 2);
        }
    BOOST_TEST(found);
    BOOST_TEST(data.at("ingest").at("points").is_array());

    // The page and its files need no key (they hold no data), and unknown files are 404.
    auto page = c.get("/dashboard");
    BOOST_TEST(page.status == 200u);
    BOOST_TEST(page.header("Content-Type").find("text/html") == 0u);
    BOOST_TEST(page.body.find("/dashboard/dashboard.js") != std::string::npos);
    auto script = c.get("/dashboard/dashboard.js");
    BOOST_TEST(script.status == 200u);
    BOOST_TEST(script.header("Content-Type").find("text/javascript") == 0u);
    BOOST_TEST(c.get("/dashboard/dashboard.css").status == 200u);
    BOOST_TEST(c.get("/dashboard/nothing.js").status == 404u);
}

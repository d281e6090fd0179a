// The operator's view against the real test broker (scripts/test.sh starts it with its
// management API): GET /api/queues shows the depth of jobs posted with no consumer, and the
// dashboard, loaded by headless Chromium, shows the per-type table with those jobs.
// Each case works under unique names on the broker and deletes what jobsd declared.
#define BOOST_TEST_MODULE operator_view_tests
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <thread>

#include "tests/support/amqp_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace jobsd::test;

namespace {

constexpr std::string_view customer_key = seed::key_a;
using seed::job_types;
using seed::operator_key;
using seed::project_a1;

// jobsd publishing to the test broker under names of its own, with the queue view on; no
// worker consumes, so posted jobs stay ready in their queues.
struct broker_jobsd {
    topology_names names{"opview-"};
    topology_cleanup cleanup{names};  // after the server below has stopped
    temp_dir dir{"jobsd-opview"};
    std::unique_ptr<jobsd_process> server;
    std::unique_ptr<http_client> client_ptr;

    // `management`: the queue view reads the management API; without it, the passive-declare
    // fallback.
    explicit broker_jobsd(bool management = true) {
        server = start_test_jobsd(
            dir, publishing_env(names, {{"JOBSD_AMQP_MANAGEMENT_URL",
                                         management ? required_env("JOBSD_TEST_MANAGEMENT_URL") : ""},
                                        {"JOBSD_SERVER_JOB_COUNTS_REFRESH_MS", "200"}}));
        client_ptr = std::make_unique<http_client>(server->host(), server->port());
        // The publisher declares the topology once connected; the view lists the queue then.
        BOOST_REQUIRE_MESSAGE(wait_until([&] { return ready_of("video").has_value(); }, 30s),
                              "the queue view never showed "
                                  << names.queue("video") << ": "
                                  << client().get("/api/queues", operator_key).body);
    }
    ~broker_jobsd() { server->stop(); }

    // The queue view's entry for `type`, when the view answers and the queue is declared.
    std::optional<json::object> queue_of(std::string_view type) {
        auto res = client().get("/api/queues", operator_key);
        if (res.status != 200) return std::nullopt;
        const auto doc = res.json();
        for (const auto& q : doc.at("queues").as_array())
            if (q.at("job_type").as_string() == type && q.at("declared").as_bool()) return q.as_object();
        return std::nullopt;
    }
    std::optional<std::int64_t> ready_of(std::string_view type) {
        auto q = queue_of(type);
        if (!q) return std::nullopt;
        return q->at("ready").to_number<std::int64_t>();
    }

    http_client& client() { return *client_ptr; }

    // A sample without labels from /metrics; throws when absent.
    double metric(std::string_view name) { return jobsd::test::metric(client(), std::string(name)); }

    void post(std::string_view type, int n) {
        for (int i = 0; i < n; ++i) {
            const std::string body = std::string(R"({"job_type":")") + std::string(type) +
                                     R"(","template_id":")" + std::string(project_a1) +
                                     "\",\"session_id\":\"s-" + std::to_string(i) + "\"}";
            BOOST_REQUIRE_EQUAL(client().post("/jobs/v2", customer_key, body).status, 201u);
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(queue_view)

BOOST_FIXTURE_TEST_CASE(depth_after_n_jobs_with_no_consumer, broker_jobsd) {
    const auto video_before = ready_of("video").value_or(-1);
    const auto tts_before = ready_of("tts").value_or(0);
    BOOST_TEST(video_before == 0);  // a fresh queue of this run's own
    const double confirmed_before = metric("jobsd_amqp_confirmed_total");
    const double published_before = metric("jobsd_amqp_published_total");
    BOOST_TEST(confirmed_before >= 0);
    constexpr int n = 7;
    post("video", n);
    post("tts", 2);
    // The broker's statistics lag by up to its collection interval; the view then settles.
    const bool settled = wait_until(
        [&] { return ready_of("video") == video_before + n && ready_of("tts") == tts_before + 2; }, 30s);
    BOOST_TEST_REQUIRE(settled, "queue view: " << client().get("/api/queues", operator_key).body);
    const auto video = *queue_of("video");
    BOOST_TEST(video.at("queue").as_string() == names.queue("video"));
    BOOST_TEST(video.at("unacked").to_number<int>() == 0);
    BOOST_TEST(video.at("consumers").to_number<int>() == 0);
    BOOST_TEST(video.at("dead_lettered").to_number<int>() == 0);
    BOOST_TEST(video.at("dead_letter_queue").as_string() == names.dead_queue("video"));
    // The publisher's counters moved with the jobs (all confirmed: they are in the queues).
    BOOST_TEST(
        wait_until([&] { return metric("jobsd_amqp_confirmed_total") == confirmed_before + n + 2; }, 10s));
    BOOST_TEST(metric("jobsd_amqp_published_total") >= published_before + n + 2);
    BOOST_TEST(metric("jobsd_outbox_unpublished") == 0);
    // What the broker itself says (passive declare) agrees.
    amqp_client broker(required_env("JOBSD_TEST_AMQP_URL"), 5s);
    BOOST_TEST(broker.message_count(names.queue("video")).value_or(0) == static_cast<unsigned>(n));
}

struct broker_jobsd_without_management : broker_jobsd {
    broker_jobsd_without_management() : broker_jobsd(false) {}
};

BOOST_FIXTURE_TEST_CASE(passive_declare_fallback_without_management_api, broker_jobsd_without_management) {
    post("pdf", 4);
    BOOST_TEST_REQUIRE(wait_until([&] { return ready_of("pdf") == 4; }, 30s),
                       "queue view: " << client().get("/api/queues", operator_key).body);
    const auto doc = client().get("/api/queues", operator_key).json();
    BOOST_TEST(doc.at("source").as_string() == "passive_declare");
    const auto pdf = *queue_of("pdf");
    BOOST_TEST(pdf.at("unacked").is_null());  // AMQP cannot tell
    BOOST_TEST(pdf.at("consumers").to_number<int>() == 0);
    BOOST_TEST(pdf.at("dead_lettered").to_number<int>() == 0);
}

BOOST_FIXTURE_TEST_CASE(needs_an_operator_key, broker_jobsd) {
    BOOST_TEST(client().get("/api/queues").status == 401u);
    auto customer = client().get("/api/queues", customer_key);
    BOOST_TEST(customer.status == 403u);
    BOOST_TEST(customer.body.find("operator key") != std::string::npos);
    BOOST_TEST(client().get("/api/queues", operator_key).status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dashboard_browser)

// Headless Chromium loads /dashboard#key=… (the fragment never reaches the server or its logs),
// runs the page's script against jobsd with jobs waiting in the broker, and dumps the DOM; the
// per-type table must list the posted types with non-zero counts. A screenshot goes to the
// test output folder.
BOOST_FIXTURE_TEST_CASE(dashboard_shows_the_per_type_table, broker_jobsd) {
    const std::string chromium = "/usr/bin/chromium";
    BOOST_TEST_REQUIRE(fs::exists(chromium),
                       chromium << " is missing; scripts/setup.sh installs Debian's chromium");
    post("video", 3);
    post("image", 2);
    BOOST_TEST_REQUIRE(wait_until([&] { return ready_of("video") == 3 && ready_of("image") == 2; }, 30s),
                       "queue view: " << client().get("/api/queues", operator_key).body);

    const std::string url =
        "http://127.0.0.1:" + std::to_string(server->port()) + "/dashboard#key=" + std::string(operator_key);
    const std::vector<std::string> common = {"--headless",
                                             "--no-sandbox",
                                             "--disable-gpu",
                                             "--disable-dev-shm-usage",
                                             "--user-data-dir=" + (dir.path() / "chromium").string(),
                                             "--virtual-time-budget=5000",
                                             "--window-size=1280,900"};
    auto run = [&](std::vector<std::string> extra, const fs::path& log) {
        auto args = common;
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(url);
        child_process browser(chromium, args, log);
        const bool ended = wait_until([&] { return !browser.running(); }, 90s);
        BOOST_TEST_REQUIRE(ended, "chromium did not finish within 90 s: " << browser.log());
        return browser.log();
    };

    const std::string dom = run({"--dump-dom"}, dir.path() / "chromium-dom.log");
    BOOST_TEST_REQUIRE(dom.find("data-loaded=\"true\"") != std::string::npos,
                       "the page never rendered data: " << dom);
    // The row of a type and the value in one of its cells, as the page writes them.
    auto cell = [&](std::string_view type, std::string_view field) -> std::optional<long> {
        const auto row = dom.find("<tr data-type=\"" + std::string(type) + "\">");
        if (row == std::string::npos) return std::nullopt;
        const auto end = dom.find("</tr>", row);
        const std::regex re("<td data-field=\"" + std::string(field) + "\"[^>]*>([0-9,]+)</td>");
        std::smatch m;
        const std::string text = dom.substr(row, end - row);
        if (!std::regex_search(text, m, re)) return std::nullopt;
        std::string digits = m[1];
        std::erase(digits, ',');
        return std::stol(digits);
    };
    for (auto [type, n] : {std::pair<std::string_view, long>{"video", 3}, {"image", 2}}) {
        BOOST_TEST_CONTEXT(type) {
            BOOST_TEST(cell(type, "ready").value_or(-1) == n);
            BOOST_TEST(cell(type, "queued").value_or(-1) == n);
            BOOST_TEST(cell(type, "consumers").value_or(-1) == 0);
        }
    }
    for (auto type : job_types)
        BOOST_TEST(dom.find("<tr data-type=\"" + std::string(type) + "\">") != std::string::npos);
    BOOST_TEST(dom.find("Latest jobs") != std::string::npos);

    const fs::path out_dir = required_env("JOBSD_TEST_OUTPUT_DIR");
    fs::create_directories(out_dir);
    const fs::path shot = out_dir / "dashboard.png";
    fs::remove(shot);
    run({"--screenshot=" + shot.string(), "--hide-scrollbars"}, dir.path() / "chromium-shot.log");
    BOOST_TEST_REQUIRE(fs::exists(shot), "no screenshot at " << shot);
    BOOST_TEST(fs::file_size(shot) > 1000u);
    std::ifstream png(shot, std::ios::binary);
    char magic[4] = {};
    png.read(magic, 4);
    BOOST_TEST(std::string(magic + 1, 3) == "PNG");
}

BOOST_AUTO_TEST_SUITE_END()

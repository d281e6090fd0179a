// Idempotent create against a real jobsd: a repeated Idempotency-Key replays the first 201,
// another body with the same key is refused, racing repeats create exactly one job.
#define BOOST_TEST_MODULE idempotency
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsctl_runner.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/wait.hpp"

using namespace jobsd::test;
namespace http = boost::beast::http;

namespace {

const std::string key_a(seed::key_a);
const std::string key_b(seed::key_b);
const std::string body_a =
    R"({"job_type":"tts","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e","values":{"s":"hi"}})";
const std::string body_b = R"({"job_type":"tts","template_id":"e3a90df2-f2cc-4494-bdba-0b85651452a1"})";

struct server_fixture {
    temp_dir dir{"jobsd-idem"};
    std::unique_ptr<jobsd_process> server = start_test_jobsd(dir);

    http_response post(http_client& c, const std::string& api_key, const std::string& idem,
                       const std::string& body) {
        return c.request(
            http::verb::post, "/jobs/v2",
            {{"x-api-key", api_key}, {"Content-Type", "application/json"}, {"Idempotency-Key", idem}}, body);
    }

    std::uint64_t committed(http_client& c) {
        return static_cast<std::uint64_t>(metric(c, "jobsd_store_jobs_committed_total"));
    }
};

std::string uuid_of(const http_response& r) {
    return std::string(r.json().at("job").at("uuid").as_string());
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_repeat_replays_the_first_answer_without_a_new_job, server_fixture) {
    http_client c(server->host(), server->port());
    const auto first = post(c, key_a, "order-1", body_a);
    BOOST_REQUIRE_EQUAL(first.status, 201);
    BOOST_TEST(first.header("Idempotent-Replayed").empty());
    const auto before = committed(c);
    const auto again = post(c, key_a, "order-1", body_a);
    BOOST_TEST(again.status == 201);
    BOOST_TEST(again.header("Idempotent-Replayed") == "true");
    BOOST_TEST(boost::json::serialize(again.json()) == boost::json::serialize(first.json()));
    BOOST_TEST(committed(c) == before);
}

// The first answer stands: a repeat after its project ended replays it, though a new job on that
// project is refused by then.
BOOST_FIXTURE_TEST_CASE(a_repeat_replays_after_its_project_ended, server_fixture) {
    http_client c(server->host(), server->port());
    const auto first = post(c, key_a, "order-ended", body_a);
    BOOST_REQUIRE_EQUAL(first.status, 201);
    const auto file = dir.path() / "ended.json";
    std::ofstream(file)
        << R"({"id": ")" << seed::project_a1
        << R"(", "name": "Ended", "type": "ai_talking_video", "end_date": "2020-01-01T00:00:00Z"})";
    const auto put = run_jobsctl(dir.path(), "sqlite:" + test_db(dir).string(),
                                 {"project", "put", std::string(seed::account_a), file.string()});
    BOOST_REQUIRE_MESSAGE(put.code == 0, describe(put));
    // jobsd reloads its catalog every second: a new job there is refused once it has.
    BOOST_REQUIRE(wait_until([&] { return c.post("/jobs/v2", key_a, body_a).status == 400; },
                             std::chrono::seconds(10), std::chrono::milliseconds(200)));
    const auto again = post(c, key_a, "order-ended", body_a);
    BOOST_TEST(again.status == 201, again.body);
    BOOST_TEST(again.header("Idempotent-Replayed") == "true");
    BOOST_TEST(uuid_of(again) == uuid_of(first));
}

BOOST_FIXTURE_TEST_CASE(the_same_key_with_another_body_is_refused, server_fixture) {
    http_client c(server->host(), server->port());
    BOOST_REQUIRE_EQUAL(post(c, key_a, "order-2", body_a).status, 201);
    const auto before = committed(c);
    const auto other = post(c, key_a, "order-2",
                            R"({"job_type":"pdf","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e"})");
    BOOST_TEST(other.status == 422);
    BOOST_TEST(other.json().at("message").as_string() ==
               "Idempotency-Key was already used with a different request body");
    BOOST_TEST(committed(c) == before);
    BOOST_TEST(post(c, key_a, std::string(256, 'k'), body_a).status == 400);
    // The bound counts characters, not bytes: 255 euro signs (765 bytes of UTF-8) are a key.
    std::string euros;
    for (int i = 0; i < 255; ++i) euros += "\u20ac";
    BOOST_TEST(post(c, key_a, euros, body_a).status == 201);
    BOOST_TEST(post(c, key_a, euros + "\u20ac", body_a).status == 400);
}

BOOST_FIXTURE_TEST_CASE(keys_belong_to_their_account, server_fixture) {
    http_client c(server->host(), server->port());
    const auto a = post(c, key_a, "shared-key", body_a);
    const auto b = post(c, key_b, "shared-key", body_b);
    BOOST_REQUIRE_EQUAL(a.status, 201);
    BOOST_REQUIRE_EQUAL(b.status, 201);
    BOOST_TEST(uuid_of(a) != uuid_of(b));
    BOOST_TEST(b.header("Idempotent-Replayed").empty());
}

BOOST_FIXTURE_TEST_CASE(racing_repeats_create_exactly_one_job, server_fixture) {
    http_client probe(server->host(), server->port());
    const auto before = committed(probe);
    std::mutex mu;
    std::set<std::string> uuids;
    std::vector<int> statuses;
    std::vector<std::thread> racers;
    for (int i = 0; i < 16; ++i)
        racers.emplace_back([&] {
            http_client c(server->host(), server->port());
            const auto r = post(c, key_a, "race-1", body_a);
            std::lock_guard lock(mu);
            statuses.push_back(r.status);
            if (r.status == 201) uuids.insert(uuid_of(r));
        });
    for (auto& t : racers) t.join();
    for (int s : statuses) BOOST_TEST(s == 201);
    BOOST_TEST(uuids.size() == 1u);
    BOOST_TEST(committed(probe) == before + 1);
}

BOOST_FIXTURE_TEST_CASE(keys_survive_a_restart, server_fixture) {
    std::string uuid;
    {
        http_client c(server->host(), server->port());
        uuid = uuid_of(post(c, key_a, "order-3", body_a));
    }
    server->stop();
    server = start_test_jobsd(dir);
    http_client c(server->host(), server->port());
    const auto again = post(c, key_a, "order-3", body_a);
    BOOST_TEST(again.status == 201);
    BOOST_TEST(uuid_of(again) == uuid);
    BOOST_TEST(again.header("Idempotent-Replayed") == "true");
}

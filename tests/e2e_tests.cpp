// End to end: jobsd, the real test broker and real jobs-worker processes. A job travels
// POST → queue → worker → status events → store → GET and the session's event stream.
#define BOOST_TEST_MODULE e2e
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>

#include "tests/support/amqp_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

using namespace jobsd::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string key_a(seed::key_a);
const std::string key_b(seed::key_b);
const std::string project_a(seed::project_a1);
const std::string prompt_a(seed::prompt_a);
const std::string project_b(seed::project_b1);
const std::vector<std::string> all_types(seed::job_types.begin(), seed::job_types.end());

// One jobsd with its own names on the shared test broker (delivery limit 3), plus the workers a
// case starts.
struct e2e {
    temp_dir dir{"jobsd-e2e"};
    topology_names names{"e2e-"};
    topology_cleanup cleanup{names};  // after the processes below are gone
    std::unique_ptr<jobsd_process> server =
        start_test_jobsd(dir, publishing_env(names, {{"JOBSD_AMQP_DELIVERY_LIMIT", "3"}}));
    std::vector<std::unique_ptr<child_process>> workers;
    int worker_count = 0;

    ~e2e() {
        for (auto& w : workers) w.reset();
        server.reset();
    }

    child_process& start_worker(const std::string& type, std::vector<std::string> extra) {
        std::vector<std::string> args = worker_args(names, type);
        args.insert(args.end(), {"--delivery-limit", "3"});
        args.insert(args.end(), extra.begin(), extra.end());
        workers.push_back(std::make_unique<child_process>(
            required_env("JOBS_WORKER_BIN"), args,
            dir.path() / ("worker-" + type + "-" + std::to_string(worker_count++) + ".log")));
        return *workers.back();
    }

    http_client client() { return http_client(server->host(), server->port()); }

    std::string post(http_client& c, const std::string& key, const std::string& type,
                     const std::string& session, const std::string& source) {
        json::object body{{"job_type", type},
                          {"session_id", session},
                          {"version", 2},
                          {"values", json::object{{"headline", "hello"}}}};
        body[type == "ai_image_generation" ? "project_id" : "template_id"] = source;
        auto res = c.post("/jobs/v2", key, json::serialize(body));
        BOOST_REQUIRE_MESSAGE(res.status == 201, "POST " << type << " got " << res.status << " " << res.body);
        return std::string(res.json().at("job").at("uuid").as_string());
    }

    // Polls GET /jobs/:id until the status is terminal or the timeout passes.
    json::object wait_terminal(http_client& c, const std::string& key, const std::string& uuid,
                               std::chrono::seconds timeout = 60s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        json::object last;
        while (std::chrono::steady_clock::now() < deadline) {
            auto res = c.get("/jobs/" + uuid, key);
            BOOST_REQUIRE_EQUAL(res.status, 200);
            last = res.json().as_object();
            const auto status = last.at("job_status").as_string();
            if (status == "SUCCESS" || status == "FAILED") return last;
            std::this_thread::sleep_for(50ms);
        }
        BOOST_FAIL("job " << uuid << " not terminal in time; last: " << json::serialize(last)
                          << "\nworker logs:\n"
                          << worker_logs() << "\njobsd:\n"
                          << server->stderr_text());
        return last;
    }

    std::string status_of(http_client& c, const std::string& key, const std::string& uuid) {
        return std::string(c.get("/jobs/" + uuid, key).json().at("job_status").as_string());
    }

    std::string worker_logs() {
        std::string out;
        for (auto& w : workers) out += w->log().substr(0, 4000) + "\n---\n";
        return out;
    }
};

std::vector<std::string> statuses_of(const std::vector<json::value>& events, const std::string& uuid) {
    std::vector<std::string> out;
    for (const auto& e : events)
        if (e.at("uuid").as_string() == uuid) out.emplace_back(e.at("job_status").as_string());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_type_reaches_success_with_its_output) {
    e2e t;
    for (const auto& type : all_types)
        t.start_worker(type, {"--handler", "simulate", "--duration-ms", "200", "--steps", "2"});
    auto c = t.client();
    std::vector<std::pair<std::string, std::string>> jobs;
    for (const auto& type : all_types)
        jobs.emplace_back(
            type, t.post(c, key_a, type, "s-all", type == "ai_image_generation" ? prompt_a : project_a));
    for (const auto& [type, uuid] : jobs) {
        auto job = t.wait_terminal(c, key_a, uuid);
        BOOST_TEST_CONTEXT(type << " " << uuid) {
            BOOST_TEST(job.at("job_status").as_string() == "SUCCESS");
            BOOST_TEST(job.at("job_type").as_string() == type);
            BOOST_REQUIRE(job.at("output").is_object());
            BOOST_TEST(!job.at("output").as_object().empty());
            BOOST_TEST(job.at("updated_at").as_string() >= job.at("created_at").as_string());
        }
    }
}

BOOST_AUTO_TEST_CASE(failing_handler_ends_failed_with_the_error) {
    e2e t;
    t.start_worker("pdf", {"--handler", "exec", "--command", "echo render broke >&2; exit 3"});
    auto c = t.client();
    const auto uuid = t.post(c, key_a, "pdf", "s-fail", project_a);
    auto job = t.wait_terminal(c, key_a, uuid);
    BOOST_TEST(job.at("job_status").as_string() == "FAILED");
    BOOST_REQUIRE(job.contains("error"));
    const std::string error(job.at("error").as_string());
    BOOST_TEST(error.find("render broke") != std::string::npos, "error was: " << error);
}

// A body as deeply nested as the API accepts (32 levels) travels inside the job message one
// level further down, and a handler's output as deep inside an event batch three levels further:
// both must still be read at the other end, or the job would stay QUEUED or STARTED for good.
BOOST_AUTO_TEST_CASE(a_job_and_an_output_as_deep_as_allowed_reach_success) {
    constexpr int max_depth = 32;  // the API's bound (model/strict_json.hpp)
    // {"a":{"a":...{}}}, `levels` objects deep.
    const auto nested = [](int levels) {
        std::string s;
        for (int i = 1; i < levels; ++i) s += "{\"a\":";
        s += "{}";
        s += std::string(static_cast<std::size_t>(levels - 1), '}');
        return s;
    };
    // The body's object, `values` and its `headline`: three of the 32 levels.
    const auto body = [&](int depth) {
        return R"({"job_type":"video","template_id":")" + project_a +
               R"(","version":2,"session_id":"s-deep","values":{"headline":)" + nested(depth - 2) + "}}";
    };
    e2e t;
    auto c = t.client();
    auto too_deep = c.post("/jobs/v2", key_a, body(max_depth + 1));
    BOOST_REQUIRE_MESSAGE(too_deep.status == 400, "one level past the bound: " << too_deep.status);
    auto res = c.post("/jobs/v2", key_a, body(max_depth));
    BOOST_REQUIRE_MESSAGE(res.status == 201, res.status << " " << res.body);
    const std::string deep_job(res.json().at("job").at("uuid").as_string());

    t.start_worker("video", {"--handler", "simulate", "--duration-ms", "0", "--steps", "1"});
    t.start_worker("pdf", {"--handler", "exec", "--command", "echo '" + nested(max_depth) + "'"});
    const auto deep_output = t.post(c, key_a, "pdf", "s-deep", project_a);

    BOOST_TEST(t.wait_terminal(c, key_a, deep_job).at("job_status").as_string() == "SUCCESS");
    auto job = t.wait_terminal(c, key_a, deep_output);
    BOOST_TEST(job.at("job_status").as_string() == "SUCCESS");
    BOOST_TEST(json::serialize(job.at("output")) == nested(max_depth));
}

BOOST_AUTO_TEST_CASE(worker_killed_mid_job_yields_one_terminal_status) {
    e2e t;
    auto c = t.client();
    sse_client stream(t.server->host(), t.server->port(), key_a, "s-kill");
    auto& first = t.start_worker(
        "video", {"--concurrency", "1", "--handler", "simulate", "--duration-ms", "4000", "--steps", "4"});
    const auto uuid = t.post(c, key_a, "video", "s-kill", project_a);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (t.status_of(c, key_a, uuid) == "QUEUED" && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    BOOST_REQUIRE_MESSAGE(t.status_of(c, key_a, uuid) != "QUEUED", "the worker never started the job:\n"
                                                                       << t.worker_logs());
    first.kill9();
    t.start_worker("video",
                   {"--concurrency", "1", "--handler", "simulate", "--duration-ms", "300", "--steps", "2"});
    auto job = t.wait_terminal(c, key_a, uuid);
    BOOST_TEST(job.at("job_status").as_string() == "SUCCESS");
    BOOST_REQUIRE(stream.wait_for(
        [&](const auto& ev) {
            auto s = statuses_of(ev, uuid);
            return !s.empty() && (s.back() == "SUCCESS" || s.back() == "FAILED");
        },
        10s));
    std::this_thread::sleep_for(500ms);  // a second terminal event, if any, would arrive by now
    const auto seen = statuses_of(stream.events(), uuid);
    int terminal = 0;
    for (const auto& s : seen) terminal += (s == "SUCCESS" || s == "FAILED");
    BOOST_TEST(terminal == 1);
    BOOST_TEST(seen.front() == "QUEUED");
}

BOOST_AUTO_TEST_CASE(session_stream_sees_the_whole_life_in_order_and_nothing_foreign) {
    e2e t;
    t.start_worker("tts", {"--handler", "simulate", "--duration-ms", "300", "--steps", "3"});
    auto c = t.client();
    sse_client stream(t.server->host(), t.server->port(), key_a, "shared-session");
    const auto mine = t.post(c, key_a, "tts", "shared-session", project_a);
    const auto foreign = t.post(c, key_b, "tts", "shared-session", project_b);
    const auto other_session = t.post(c, key_a, "tts", "another-session", project_a);
    t.wait_terminal(c, key_a, mine);
    t.wait_terminal(c, key_b, foreign);
    t.wait_terminal(c, key_a, other_session);
    const bool complete = stream.wait_for(
        [&](const auto& ev) {
            auto s = statuses_of(ev, mine);
            return !s.empty() && s.back() == "SUCCESS";
        },
        10s);
    BOOST_REQUIRE_MESSAGE(
        complete, "stream of " << mine << ": " << [&] {
            std::string all;
            for (const auto& e : stream.events()) all += json::serialize(e) + "\n";
            return all;
        }() << "jobsd:\n" << t.server->stderr_text());
    std::this_thread::sleep_for(300ms);
    const auto events = stream.events();
    const auto seen = statuses_of(events, mine);
    BOOST_REQUIRE_GE(seen.size(), 4u);
    BOOST_TEST(seen.front() == "QUEUED");
    BOOST_TEST(seen[1] == "STARTED");
    BOOST_TEST(seen.back() == "SUCCESS");
    const std::vector<std::string> order = {"QUEUED", "STARTED", "IN_PROGRESS", "SUCCESS", "FAILED"};
    auto rank = [&](const std::string& s) {
        return std::find(order.begin(), order.end(), s) - order.begin();
    };
    for (std::size_t i = 1; i < seen.size(); ++i) BOOST_TEST(rank(seen[i]) >= rank(seen[i - 1]));
    BOOST_TEST(statuses_of(events, foreign).empty(), "another account's job leaked into the stream");
    BOOST_TEST(statuses_of(events, other_session).empty(), "another session's job leaked into the stream");
}

BOOST_AUTO_TEST_CASE(stream_needs_a_key_and_a_session) {
    e2e t;
    auto c = t.client();
    BOOST_TEST(c.get("/jobs/v2/events?session_id=x", "").status == 401);
    auto res = c.get("/jobs/v2/events", key_a);
    BOOST_TEST(res.status == 400);
    BOOST_TEST(res.json().at("message").as_string() == "session_id query parameter is required");
}

BOOST_AUTO_TEST_CASE(job_past_its_delivery_limit_ends_failed_with_a_reason) {
    e2e t;
    auto c = t.client();
    const auto uuid = t.post(c, key_a, "image", "s-poison", project_a);
    // A poison job: its handler kills the worker running it, so the broker redelivers it until
    // the queue's delivery limit (3 here) dead-letters it, and jobsd marks it FAILED.
    for (int attempt = 0; attempt < 8 && t.status_of(c, key_a, uuid) != "FAILED"; ++attempt) {
        auto& w = t.start_worker("image",
                                 {"--concurrency", "1", "--handler", "exec", "--command", "kill -9 $PPID"});
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (w.running() && std::chrono::steady_clock::now() < deadline &&
               t.status_of(c, key_a, uuid) != "FAILED")
            std::this_thread::sleep_for(50ms);
        w.kill9();
    }
    auto job = t.wait_terminal(c, key_a, uuid, 30s);
    BOOST_TEST(job.at("job_status").as_string() == "FAILED");
    BOOST_REQUIRE(job.contains("error"));
    const std::string error(job.at("error").as_string());
    BOOST_TEST(error.find("dead-lettered") != std::string::npos, "error was: " << error);
}

// A worker acks a job only once the broker has confirmed its terminal event. While the events
// queue refuses every event (max-length 0 with reject-publish: each publish is nacked), the
// finished job stays unacked, so a worker killed meanwhile leaves it to the broker, which offers
// it again; once events are taken again, a new worker finishes it and the job queue is empty.
// Classic queues: a quorum queue under reject-publish accepts a first message while empty.
BOOST_AUTO_TEST_CASE(a_worker_acks_a_job_only_after_its_outcome_is_confirmed) {
    const topology_names names("e2e-ack-");
    topology_cleanup cleanup(names);
    temp_dir dir("jobsd-e2e-ack");
    auto broker = connect_test_broker();
    std::vector<std::unique_ptr<child_process>> workers;
    auto start_worker = [&] {
        auto args = worker_args(names, "video");
        args.insert(args.end(), {"--queue-type", "classic", "--concurrency", "1", "--handler", "simulate",
                                 "--duration-ms", "100", "--steps", "1"});
        workers.push_back(std::make_unique<child_process>(
            required_env("JOBS_WORKER_BIN"), args,
            dir.path() / ("worker-" + std::to_string(workers.size()) + ".log")));
        return workers.back().get();
    };
    const std::string queue = names.queue("video");
    auto* first = start_worker();
    BOOST_TEST_REQUIRE(wait_until([&] { return broker->consumer_count(queue).value_or(0) == 1; }, 30s),
                       "the worker did not start consuming:\n"
                           << first->log());
    auto refuse_events =
        apply_queue_policy(names.prefix + "no-events", "^" + regex_escape(names.events_queue()) + "$",
                           R"({"max-length":0,"overflow":"reject-publish"})", names.events_queue());

    std::random_device rd;
    char tail[13];
    std::snprintf(tail, sizeof tail, "%06x%06x", rd() & 0xffffff, rd() & 0xffffff);
    const std::string uuid = std::string("7e2e0000-0000-4000-8000-") + tail;
    broker->publish(
        names.exchange(), "video",
        json::serialize(json::object{{"uuid", uuid}, {"job_type", "video"}, {"input", json::object{}}}),
        uuid);
    const std::string nacked = "the SUCCESS event of job " + uuid + " was nacked";
    BOOST_TEST_REQUIRE(wait_until([&] { return first->log().find(nacked) != std::string::npos; }, 30s),
                       "the worker's SUCCESS event was never nacked:\n"
                           << first->log());
    first->kill9();
    // Never acked: the broker has the job again.
    BOOST_TEST(wait_until([&] { return broker->message_count(queue).value_or(0) == 1; }, 30s),
               "the job is gone from its queue though its outcome was never confirmed");

    refuse_events->undo();
    auto* second = start_worker();
    bool success = false;
    BOOST_TEST(wait_until(
                   [&] {
                       for (const auto& m : broker->drain(names.events_queue(), 200ms)) {
                           const auto e = json::parse(m.body);
                           success = success || (e.at("uuid").as_string() == uuid &&
                                                 e.at("job_status").as_string() == "SUCCESS");
                       }
                       return success;
                   },
                   30s),
               "no SUCCESS event once events were taken again:\n"
                   << second->log());
    BOOST_TEST(broker->message_count(queue).value_or(1) == 0u);
}

// End to end: jobsd, the real test broker and real jobs-worker processes. A job travels
// POST → queue → worker → status events → store → GET and the session's event stream.
#define BOOST_TEST_MODULE e2e
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>

#include "tests/support/amqp_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/sse_client.hpp"

using namespace jobsd::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string key_a = "key-a-5d1c8e7f2b9a4c6e";
const std::string key_b = "key-b-9e4a2f6c1d7b3e8a";
const std::string project_a = "468ea7a0-66e1-4357-a760-236e54167f3e";
const std::string prompt_a = "f12f3401-0fd6-4a30-82d1-b85a8db70e5b";
const std::string project_b = "e3a90df2-f2cc-4494-bdba-0b85651452a1";
const std::vector<std::string> all_types = {"ai_talking_video",   "video", "tts", "image", "photo_qc", "pdf",
                                            "ai_image_generation"};

// One jobsd with its own names on the shared test broker, plus the workers a case starts.
struct e2e {
    temp_dir dir{"jobsd-e2e"};
    std::string url = required_env("JOBSD_TEST_AMQP_URL");
    std::string prefix;
    std::unique_ptr<jobsd_process> server;
    std::vector<std::unique_ptr<child_process>> workers;
    int worker_count = 0;

    e2e() {
        static std::atomic<int> n{0};
        prefix = "e2e" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".";
        const std::vector<std::pair<std::string, std::string>> env = {
            {"JOBSD_AMQP_ENABLED", "true"},
            {"JOBSD_AMQP_URLS", url},
            {"JOBSD_AMQP_EXCHANGE", prefix + "jobs"},
            {"JOBSD_AMQP_QUEUE_PREFIX", prefix + "jobs."},
            {"JOBSD_AMQP_DEAD_EXCHANGE", prefix + "jobs.dead"},
            {"JOBSD_AMQP_DEAD_QUEUE_PREFIX", prefix + "jobs.dead."},
            {"JOBSD_AMQP_EVENTS_EXCHANGE", prefix + "jobs.events"},
            {"JOBSD_AMQP_EVENTS_QUEUE", prefix + "jobsd.events"},
            {"JOBSD_AMQP_DELIVERY_LIMIT", "3"},
        };
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        const std::string data = required_env("JOBSD_TEST_DATA");
        server = std::make_unique<jobsd_process>(
            required_env("JOBSD_BIN"),
            std::vector<std::string>{"--config", data + "/jobsd_test.json", "--store",
                                     "sqlite:" + (dir.path() / "jobs.db").string(), "--seed",
                                     data + "/seed_test.json"},
            dir.path());
        for (const auto& [k, v] : env) ::unsetenv(k.c_str());
    }

    ~e2e() {
        for (auto& w : workers) w.reset();
        server.reset();
        try {  // best effort: leave the shared broker as we found it
            amqp_client admin(url);
            for (const auto& t : all_types) {
                admin.delete_queue(prefix + "jobs." + t);
                admin.delete_queue(prefix + "jobs.dead." + t);
            }
            admin.delete_queue(prefix + "jobsd.events");
            for (auto x : {"jobs", "jobs.dead", "jobs.events"}) admin.delete_exchange(prefix + x);
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("cleanup: " << e.what());
        }
    }

    child_process& start_worker(const std::string& type, std::vector<std::string> extra) {
        std::vector<std::string> args = {"--type",
                                         type,
                                         "--url",
                                         url,
                                         "--exchange",
                                         prefix + "jobs",
                                         "--queue-prefix",
                                         prefix + "jobs.",
                                         "--dead-exchange",
                                         prefix + "jobs.dead",
                                         "--dead-queue-prefix",
                                         prefix + "jobs.dead.",
                                         "--events-exchange",
                                         prefix + "jobs.events",
                                         "--events-queue",
                                         prefix + "jobsd.events",
                                         "--delivery-limit",
                                         "3"};
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

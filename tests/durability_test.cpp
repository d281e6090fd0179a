// Crash test of the durability promise "201 means committed": SIGKILL jobsd under concurrent load,
// then read its SQLite file directly and require every job that was answered 201 to be there.
#define BOOST_TEST_MODULE durability_test
#include <boost/test/unit_test.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sqlite_file.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace json = boost::json;
using jobsd::test::http_client;
using jobsd::test::jobsd_process;
using jobsd::test::required_env;
using jobsd::test::stored_uuids;
using jobsd::test::temp_dir;
using jobsd::test::seed::key_a;
using jobsd::test::seed::project_a1;

namespace {

constexpr int client_threads = 16;
constexpr std::size_t accepted_before_kill = 500;

std::string crash_body() {
    return json::serialize(json::object{
        {"job_type", "ai_talking_video"},
        {"template_id", project_a1},
        {"version", 2},
        {"session_id", "durability"},
        {"values", json::object{{"headline", "Crash me"},
                                {"avatar", json::object{{"image_url", "https://cdn.example.com/a.png"}}}}}});
}

// How many flushes of the served database's WAL the preload library has logged so far.
std::size_t wal_flushes(const std::filesystem::path& log) {
    std::ifstream in(log);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);)
        if (line.ends_with("jobs.db-wal")) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_201_survives_sigkill_and_a_restart) {
    temp_dir dir("jobsd-durability");
    const auto db = jobsd::test::test_db(dir);
    const std::string body = crash_body();

    std::mutex mutex;
    std::vector<std::string> accepted;  // guarded by mutex: every uuid answered 201
    std::vector<std::string> failures;  // guarded by mutex: errors seen before the kill
    std::atomic<std::size_t> accepted_count{0};
    std::atomic<int> in_flight{0};
    std::atomic<bool> killed{false};
    int in_flight_at_kill = 0;

    {
        auto started = jobsd::test::start_test_jobsd(dir);
        jobsd_process& server = *started;
        std::vector<std::thread> threads;
        for (int i = 0; i < client_threads; ++i) {
            threads.emplace_back([&] {
                http_client client(server.host(), server.port(), std::chrono::seconds(20));
                for (;;) {
                    ++in_flight;
                    try {
                        const auto res = client.post("/jobs/v2", key_a, body);
                        if (res.status == 201) {
                            // Recorded before leaving flight: once read, a 201 is a promise.
                            const auto uuid = std::string(res.json().at("job").at("uuid").as_string());
                            std::lock_guard lock(mutex);
                            accepted.push_back(uuid);
                            ++accepted_count;
                        } else if (!killed) {
                            std::lock_guard lock(mutex);
                            failures.push_back(std::to_string(res.status) + " " + res.body);
                        }
                    } catch (const std::exception& e) {
                        --in_flight;
                        if (!killed) {
                            std::lock_guard lock(mutex);
                            failures.push_back(e.what());
                        }
                        return;  // the server is gone (or this connection is broken): stop
                    }
                    --in_flight;
                }
            });
        }

        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
        while (accepted_count < accepted_before_kill && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            std::lock_guard lock(mutex);
            if (!failures.empty()) break;
        }
        killed = true;
        in_flight_at_kill = in_flight.load();
        const auto info = server.kill9();
        for (auto& t : threads) t.join();

        BOOST_TEST(info.signal == SIGKILL, "jobsd ended on its own before the kill: exited "
                                               << info.exited << ", code " << info.code << ", signal "
                                               << info.signal << "\n"
                                               << server.stderr_text());
        BOOST_TEST(failures.empty(), failures.size()
                                         << " requests failed before the kill, first: "
                                         << (failures.empty() ? "" : failures.front()) << "\nstderr:\n"
                                         << server.stderr_text());
    }

    BOOST_TEST_MESSAGE(accepted.size()
                       << " jobs answered 201; " << in_flight_at_kill << " requests in flight at SIGKILL");
    BOOST_TEST_REQUIRE(accepted.size() >= accepted_before_kill);
    BOOST_TEST(in_flight_at_kill > 0, "the kill was meant to hit requests in flight");
    BOOST_TEST(std::set<std::string>(accepted.begin(), accepted.end()).size() == accepted.size(),
               "a uuid was answered twice");

    const auto stored = stored_uuids(db);
    std::vector<std::string> lost;
    for (const auto& uuid : accepted) {
        if (stored.count(uuid) == 0) lost.push_back(uuid);
    }
    BOOST_TEST(lost.empty(), lost.size()
                                 << " of " << accepted.size() << " jobs answered 201 are not in the store"
                                 << " after SIGKILL, e.g. " << (lost.empty() ? "" : lost.front()));

    // The same file must serve again: a restart recovers it and finds the acknowledged jobs.
    auto restarted = jobsd::test::start_test_jobsd(dir);
    jobsd_process& again = *restarted;
    http_client client(again.host(), again.port());
    for (const auto& uuid : {accepted.front(), accepted[accepted.size() / 2], accepted.back()}) {
        BOOST_TEST_CONTEXT("GET /jobs/" << uuid << " after restart") {
            const auto res = client.get("/jobs/" + uuid, key_a);
            BOOST_TEST(res.status == 200u, res.body);
            if (res.status == 200) {
                const auto job = res.json();
                BOOST_TEST(job.at("uuid").as_string() == uuid);
                BOOST_TEST(job.at("input") == json::parse(body));
            }
        }
    }
    client.close();
    const auto info = again.stop();
    BOOST_TEST((info.exited && info.code == 0), "graceful stop after restart failed; stderr:\n"
                                                    << again.stderr_text());
}

// SIGKILL leaves the page cache alone, so the test above would pass without any flush at all.
// This one watches the flushes themselves: jobsd runs under a preload library that logs every
// fsync/fdatasync of the served database's WAL, and each 201 must come after a flush that the
// previous 201 had not seen (WAL with synchronous=FULL syncs the log at every commit; NORMAL
// only at checkpoints, OFF never). One client, one job at a time: one commit per request.
BOOST_AUTO_TEST_CASE(every_201_follows_a_flush_of_the_wal) {
    temp_dir dir("jobsd-fsync");
    const auto log = dir.path() / "flushes.log";
    jobsd::test::jobsd_options options;
    options.env = {{"LD_PRELOAD", required_env("JOBSD_FSYNC_COUNTER")},
                   {"JOBSD_FSYNC_LOG", log.string()},
                   {"JOBSD_FSYNC_WATCH", "jobs.db-wal"}};
    auto server = jobsd::test::start_jobsd(dir, options);
    http_client client(server->host(), server->port());
    const std::string body = crash_body();

    constexpr int jobs = 20;
    int unflushed = 0;
    std::size_t before = wal_flushes(log);
    for (int i = 0; i < jobs; ++i) {
        const auto res = client.post("/jobs/v2", key_a, body);
        BOOST_TEST_REQUIRE(res.status == 201u, res.body);
        const std::size_t after = wal_flushes(log);
        if (after <= before) ++unflushed;
        before = after;
    }
    BOOST_TEST_MESSAGE(before << " flushes of the WAL logged for " << jobs << " jobs");
    BOOST_TEST(unflushed == 0, unflushed
                                   << " of " << jobs
                                   << " jobs were answered 201 without a flush of the WAL since the previous "
                                      "answer; flush log:\n"
                                   << jobsd::test::read_text(log));
    const auto stopped = server->stop();
    BOOST_TEST((stopped.exited && stopped.code == 0), server->stderr_text());
}

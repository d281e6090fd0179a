// Crash test of the durability promise "201 means committed": SIGKILL jobsd under concurrent load,
// then read its SQLite file directly and require every job that was answered 201 to be there.
#define BOOST_TEST_MODULE durability_test
#include <boost/test/unit_test.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"

#include <sqlite3.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace json = boost::json;
using jobsd::test::http_client;
using jobsd::test::jobsd_process;
using jobsd::test::required_env;
using jobsd::test::temp_dir;

namespace {

// From tests/data/seed_test.json: account A's key and its always-active talking-video project.
constexpr std::string_view key_a = "key-a-5d1c8e7f2b9a4c6e";
constexpr std::string_view project_a1 = "468ea7a0-66e1-4357-a760-236e54167f3e";

constexpr int client_threads = 16;
constexpr std::size_t accepted_before_kill = 500;

std::vector<std::string> server_args(const std::filesystem::path& db) {
    const std::filesystem::path data = required_env("JOBSD_TEST_DATA");
    return {
        "--config", (data / "jobsd_test.json").string(), "--port", "0", "--store", "sqlite:" + db.string(),
        "--seed",   (data / "seed_test.json").string()};
}

// Every uuid in the `jobs` table of the SQLite file at `db`. Opens read-write without create:
// a missing file must fail, and recovering the WAL left by the crash needs write access.
std::set<std::string> stored_uuids(const std::filesystem::path& db) {
    sqlite3* conn = nullptr;
    const int rc = sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> guard(conn, &sqlite3_close);
    if (rc != SQLITE_OK) {
        throw std::runtime_error("cannot open " + db.string() + ": " +
                                 (conn != nullptr ? sqlite3_errmsg(conn) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(conn, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(conn, "SELECT uuid FROM jobs", -1, &stmt, nullptr) != SQLITE_OK) {
        throw std::runtime_error(std::string("cannot query jobs: ") + sqlite3_errmsg(conn));
    }
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt_guard(stmt, &sqlite3_finalize);
    std::set<std::string> uuids;
    int step = SQLITE_ROW;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        if (text != nullptr) uuids.insert(text);
    }
    if (step != SQLITE_DONE) throw std::runtime_error(std::string("reading jobs: ") + sqlite3_errmsg(conn));
    return uuids;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_201_survives_sigkill_and_a_restart) {
    temp_dir dir("jobsd-durability");
    const auto db = dir.path() / "jobs.db";
    const std::string body = json::serialize(json::object{
        {"job_type", "ai_talking_video"},
        {"template_id", project_a1},
        {"version", 2},
        {"session_id", "durability"},
        {"values", json::object{{"headline", "Crash me"},
                                {"avatar", json::object{{"image_url", "https://cdn.example.com/a.png"}}}}}});

    std::mutex mutex;
    std::vector<std::string> accepted;  // guarded by mutex: every uuid answered 201
    std::vector<std::string> failures;  // guarded by mutex: errors seen before the kill
    std::atomic<std::size_t> accepted_count{0};
    std::atomic<int> in_flight{0};
    std::atomic<bool> killed{false};
    int in_flight_at_kill = 0;

    {
        jobsd_process server(required_env("JOBSD_BIN"), server_args(db), dir.path());
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
    jobsd_process again(required_env("JOBSD_BIN"), server_args(db), dir.path());
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

// The single-node chaos test of issue 14: jobsd on SQLite, one jobs-worker per type and the test
// RabbitMQ node, under steady jobs-bench load. jobsd is killed with SIGKILL five times, one worker
// is killed, the broker's memory alarm is raised and cleared, and the broker is stopped and
// started. Afterwards every job answered 201 must be in the store, published, delivered to a
// worker and terminal; deliveries beyond the first are counted and reported (at-least-once),
// and the figures are written to tests/output/chaos.json.
#define BOOST_TEST_MODULE chaos_tests
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "store/sqlite_outbox_sql.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/loopback_port.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace jobsd::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// jobs-bench in back-to-back open-loop segments of 10 s until stopped, each writing the uuid of
// every 201: steady load for as long as the faults take, every 201 accounted for.
class load {
  public:
    static constexpr int rate = 80;  // jobs/s offered
    load(fs::path dir, unsigned short port) : dir_(std::move(dir)), port_(port), thread_([this] { run(); }) {}
    ~load() { finish(); }
    void finish() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::set<std::string> accepted() const {
        std::set<std::string> out;
        for (int k = 0; k < segments_; ++k) {
            std::istringstream in(read_text(dir_ / ("accepted-" + std::to_string(k) + ".txt")));
            for (std::string line; std::getline(in, line);)
                if (!line.empty()) out.insert(line);
        }
        return out;
    }
    // Answers by status and requests without an answer by kind, over every segment.
    std::map<std::string, long> outcomes() const {
        std::map<std::string, long> out;
        for (int k = 0; k < segments_; ++k) {
            const auto doc = json::parse(read_text(dir_ / ("bench-" + std::to_string(k) + ".json")));
            const auto& run = doc.at("run");
            for (const auto& [code, n] : run.at("status").as_object())
                out[std::string(code)] += n.to_number<long>();
            for (const auto& [kind, n] : run.at("errors").as_object())
                out["no answer: " + std::string(kind)] += n.to_number<long>();
        }
        return out;
    }
    std::string error;  // set by the load thread before it ends; read after finish()

  private:
    void run() {
        while (!stop_) {
            const auto k = std::to_string(segments_.load());
            const auto r = run_command({required_env("JOBS_BENCH_BIN"),
                                        "-c",
                                        "8",
                                        "-t",
                                        "1",
                                        "-R",
                                        std::to_string(rate),
                                        "-d",
                                        "10",
                                        "--timeout",
                                        "5000",
                                        "--quiet",
                                        "--payload",
                                        required_env("JOBSD_BENCH_MIX"),
                                        "--key",
                                        std::string(test_key),
                                        "--project",
                                        "468ea7a0-66e1-4357-a760-236e54167f3e",
                                        "--prompt",
                                        "f12f3401-0fd6-4a30-82d1-b85a8db70e5b",
                                        "--accepted",
                                        (dir_ / ("accepted-" + k + ".txt")).string(),
                                        "--json",
                                        (dir_ / ("bench-" + k + ".json")).string(),
                                        "http://127.0.0.1:" + std::to_string(port_)},
                                       dir_ / "bench.log", 60s);
            if (r.timed_out || !fs::exists(dir_ / ("bench-" + k + ".json"))) {
                error = "jobs-bench segment " + k + " failed:\n" + r.output;
                return;
            }
            ++segments_;
        }
    }

    fs::path dir_;
    unsigned short port_;
    std::atomic<bool> stop_{false};
    std::atomic<int> segments_{0};
    std::thread thread_;
};

// One simulating jobs-worker per job type, logging every delivery (debug), restartable.
class workers {
  public:
    workers(const topology_names& names, fs::path dir) : names_(names), dir_(std::move(dir)) {
        for (const auto& t : all_job_type_names) start(t);
    }
    void start(const std::string& type) {
        std::vector<std::string> args{
            "--type",        type, "--handler",   "simulate", "--duration-ms", "20",  "--steps", "1",
            "--concurrency", "16", "--log-level", "debug",    "--grace-ms",    "3000"};
        const auto flags = worker_flags(names_);
        args.insert(args.end(), flags.begin(), flags.end());
        procs_[type] = std::make_unique<child_process>(required_env("JOBS_WORKER_BIN"), args,
                                                       dir_ / ("worker-" + type + ".log"));
    }
    void kill9(const std::string& type) { procs_.at(type)->kill9(); }
    bool all_running() {
        for (auto& [t, p] : procs_)
            if (!p->running()) return false;
        return true;
    }
    // Deliveries per job, from every worker's log ("job <uuid> received").
    std::map<std::string, int> deliveries() const {
        std::map<std::string, int> seen;
        static const std::regex re(R"( job ([0-9a-f-]{36}) received)");
        for (const auto& t : all_job_type_names) {
            std::ifstream in(dir_ / ("worker-" + t + ".log"));
            for (std::string line; std::getline(in, line);) {
                std::smatch m;
                if (std::regex_search(line, m, re)) ++seen[m[1]];
            }
        }
        return seen;
    }

  private:
    const topology_names& names_;
    fs::path dir_;
    std::map<std::string, std::unique_ptr<child_process>> procs_;
};

struct stored_job {
    std::string status;
    bool published = false;
};

std::map<std::string, stored_job> read_store(const fs::path& db) {
    std::map<std::string, stored_job> out;
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(h);
        return out;
    }
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt* st = nullptr;
    const std::string sql =
        "SELECT uuid, job_status, NOT " + std::string(jobsd::store::sqlite_outbox::waiting) + " FROM jobs";
    sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = {
            reinterpret_cast<const char*>(sqlite3_column_text(st, 1)), sqlite3_column_int(st, 2) != 0};
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
}

bool terminal(const std::string& s) {
    return s == "SUCCESS" || s == "FAILED";
}

}  // namespace

BOOST_AUTO_TEST_CASE(faults_under_load_lose_no_accepted_job, *boost::unit_test::timeout(560)) {
    const topology_names names("chaos");
    topology_cleanup cleanup(names);
    scoped_env env(jobsd_env(
        names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "2000"}, {"JOBSD_SERVER_SHUTDOWN_GRACE_MS", "2000"}}));
    temp_dir dir("jobsd-chaos");
    const fs::path out = dir.path() / "load";
    fs::create_directories(out);
    const unsigned short port = unused_loopback_port();  // every restart listens where the load goes
    auto server = std::make_unique<jobsd_node>(dir, "", port);
    BOOST_TEST_REQUIRE(wait_until([&] { return server->health().at("broker") == "connected"; }, 30s));
    workers fleet(names, dir.path());
    load bench(out, port);
    std::vector<std::string> timeline;
    const auto origin = steady::now();
    auto note = [&](const std::string& what) {
        std::ostringstream s;
        s.precision(1);
        s << std::fixed << std::chrono::duration<double>(steady::now() - origin).count() << " s: " << what;
        timeline.push_back(s.str());
        BOOST_TEST_MESSAGE(timeline.back());
    };
    std::this_thread::sleep_for(10s);

    for (int k = 1; k <= 5; ++k) {
        server->process().kill9();
        note("jobsd SIGKILLed (" + std::to_string(k) + " of 5)");
        std::this_thread::sleep_for(1s);
        server.reset();
        server = std::make_unique<jobsd_node>(dir, "", port);
        note("jobsd listening again");
        std::this_thread::sleep_for(8s);
    }
    fleet.kill9("video");
    note("video worker SIGKILLed");
    std::this_thread::sleep_for(3s);
    fleet.start("video");
    note("video worker started again");
    std::this_thread::sleep_for(5s);
    {
        memory_alarm alarm;
        alarm.raise();
        note("memory alarm raised");
        BOOST_CHECK_MESSAGE(wait_until([&] { return server->health().at("broker") == "blocked"; }, 20s),
                            "/healthz never said blocked");
        std::this_thread::sleep_for(8s);
        alarm.clear();
        note("memory alarm cleared");
    }
    std::this_thread::sleep_for(5s);
    {
        broker_node node;
        node.stop();
        note("broker stopped");
        std::this_thread::sleep_for(5s);
        node.start();
        note("broker started");
    }
    BOOST_CHECK_MESSAGE(wait_until([&] { return server->health().at("broker") == "connected"; }, 60s),
                        "jobsd did not reconnect to the broker");
    std::this_thread::sleep_for(10s);
    bench.finish();
    note("load stopped");
    BOOST_REQUIRE_MESSAGE(bench.error.empty(), bench.error);

    // Every job reaches a terminal status with the workers running.
    const auto db = dir.path() / "jobs.db";
    std::map<std::string, stored_job> store;
    const bool drained = wait_until(
        [&] {
            store = read_store(db);
            for (const auto& [uuid, j] : store)
                if (!j.published || !terminal(j.status)) return false;
            return !store.empty();
        },
        240s, 1s);
    note("drained");
    BOOST_CHECK(fleet.all_running());
    const auto accepted = bench.accepted();
    const auto deliveries = fleet.deliveries();
    long lost = 0, unpublished = 0, not_terminal = 0, undelivered = 0, duplicated = 0, extra = 0;
    for (const auto& u : accepted) {
        const auto it = store.find(u);
        if (it == store.end()) {
            if (++lost <= 5) BOOST_ERROR("job " << u << " was answered 201 but is not in the store");
            continue;
        }
        unpublished += !it->second.published;
        not_terminal += !terminal(it->second.status);
        const auto d = deliveries.find(u);
        if (d == deliveries.end()) {
            if (++undelivered <= 5) BOOST_ERROR("job " << u << " never reached a worker");
        } else if (d->second > 1) {
            ++duplicated;
            extra += d->second - 1;
        }
    }
    const auto outcomes = bench.outcomes();
    std::ostringstream report;
    report << "chaos: " << load::rate << " jobs/s offered; " << accepted.size() << " answered 201, "
           << store.size() << " in the store; lost " << lost << ", unpublished " << unpublished
           << ", not terminal " << not_terminal << ", never delivered " << undelivered
           << "; delivered more than once " << duplicated << " (" << extra << " extra deliveries); answers:";
    json::object by_outcome;
    for (const auto& [k, n] : outcomes) {
        report << " " << k << " x" << n;
        by_outcome[k] = n;
    }
    std::cout << report.str() << "\n" << std::flush;
    json::array events;
    for (const auto& t : timeline) events.emplace_back(t);
    const fs::path output_dir = required_env("JOBSD_TEST_OUTPUT_DIR");
    fs::create_directories(output_dir);
    std::ofstream(output_dir / "chaos.json")
        << json::serialize(json::object{{"rate", load::rate},
                                        {"accepted", accepted.size()},
                                        {"stored", store.size()},
                                        {"lost", lost},
                                        {"unpublished", unpublished},
                                        {"not_terminal", not_terminal},
                                        {"never_delivered", undelivered},
                                        {"delivered_more_than_once", duplicated},
                                        {"extra_deliveries", extra},
                                        {"outcomes", std::move(by_outcome)},
                                        {"timeline", std::move(events)}})
        << "\n";

    BOOST_CHECK_MESSAGE(drained, "jobs still unpublished or not terminal 240 s after the load");
    BOOST_CHECK_GT(accepted.size(), 2000u);  // the load ran throughout
    BOOST_CHECK_EQUAL(lost, 0);
    BOOST_CHECK_EQUAL(unpublished, 0);
    BOOST_CHECK_EQUAL(not_terminal, 0);
    BOOST_CHECK_EQUAL(undelivered, 0);
}

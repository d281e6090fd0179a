// The cluster's chaos test: scripts/cluster.sh brings up three RabbitMQ nodes, PostgreSQL, three
// jobsd behind HAProxy and workers; under steady jobs-bench load through HAProxy it kills the node
// leading a busy quorum queue, stops and restarts a second node, kills a jobsd and restarts
// PostgreSQL. Then every 201 must be in the store, published, and terminal; duplicates and the
// time each fault cost are measured and printed (and written to tests/output/cluster_chaos.json).
#define BOOST_TEST_MODULE cluster_chaos_tests
#include <libpq-fe.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/chaos_timeline.hpp"
#include "tests/support/command_runner.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics_sampler.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace jobsd::test;
using namespace std::chrono_literals;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) throw std::runtime_error(std::string("environment variable ") + name + " is not set");
    return v;
}

const std::vector<std::string> job_types = {"ai_talking_video",   "video", "tts", "image", "photo_qc", "pdf",
                                            "ai_image_generation"};
constexpr int jobsd_count = 3;

// scripts/cluster.sh on one directory; every call bounded, its output kept in cluster-control.log.
class cluster {
  public:
    cluster()
        : script_(env("JOBSD_CLUSTER_SCRIPT")),
          dir_(env("JOBSD_CLUSTER_DIR")),
          base_(std::stoi(env("JOBSD_CLUSTER_BASE_PORT"))),
          log_(dir_.parent_path() / (dir_.filename().string() + "-control.log")) {}
    ~cluster() {
        if (started_) run("stop", {}, 180s, false);
    }

    void start() {
        run("stop", {}, 180s, false);  // a cluster left over from an interrupted run
        fs::remove_all(dir_);
        fs::remove(log_);
        started_ = true;
        // Fast simulated jobs, many at once, every delivery logged (duplicates are counted from it).
        run("start",
            {"--base-port", std::to_string(base_), "--jobsd", std::to_string(jobsd_count), "--worker-arg",
             "--concurrency 32 --duration-ms 20 --steps 1 --grace-ms 3000 --log-level debug"},
            600s);
    }
    std::string run(const std::string& cmd, std::vector<std::string> args = {},
                    std::chrono::milliseconds timeout = 180s, bool must_succeed = true) {
        std::vector<std::string> argv{"bash", script_.string(), cmd, dir_.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto r = run_command(argv, log_, timeout);
        if (must_succeed && (r.timed_out || r.exit_code != 0))
            throw std::runtime_error("cluster.sh " + cmd + (r.timed_out ? " timed out" : " failed") + ":\n" +
                                     r.output);
        return r.output;
    }
    // The node (1..3) leading `queue`.
    int leader(const std::string& queue) { return std::stoi(run("leader", {queue}, 60s)); }
    // Quorum queues by name: {leader, members, online}.
    std::map<std::string, std::tuple<std::string, int, int>> queues() {
        std::map<std::string, std::tuple<std::string, int, int>> out;
        std::istringstream in(run("queues", {}, 60s, false));
        std::string name, leader;
        int members = 0, online = 0;
        while (in >> name >> leader >> members >> online) out[name] = {leader, members, online};
        return out;
    }
    bool all_replicas_online() {
        const auto q = queues();
        if (q.size() < job_types.size()) return false;
        for (const auto& [name, v] : q)
            if (std::get<1>(v) < 3 || std::get<2>(v) < 3) return false;
        return true;
    }
    unsigned short front_port() const { return static_cast<unsigned short>(base_ + 2000); }
    unsigned short jobsd_port(int i) const { return static_cast<unsigned short>(base_ + 2000 + i); }
    const fs::path& dir() const { return dir_; }
    std::string pg_url() {
        const auto text = read_text(dir_ / "cluster.env");
        std::smatch m;
        if (!std::regex_search(text, m, std::regex("PG_URL='([^']*)'")))
            throw std::runtime_error("no PG_URL");
        return m[1];
    }

  private:
    fs::path script_, dir_;
    int base_;
    fs::path log_;
    bool started_ = false;
};

// One libpq connection, reopened when a query fails (the server restarts during the test).
class pg {
  public:
    explicit pg(std::string url) : url_(std::move(url)) {}
    ~pg() {
        if (conn_) PQfinish(conn_);
    }
    // Rows of text. A query that fails on a connection the server has closed (it restarted) is
    // tried once more on a new one; throws when the server cannot answer.
    std::vector<std::vector<std::string>> query(const std::string& sql) {
        try {
            return attempt(sql);
        } catch (const std::exception&) {
            return attempt(sql);  // attempt() dropped the failed connection
        }
    }
    long count(const std::string& sql) { return std::stol(query(sql).at(0).at(0)); }

  private:
    std::vector<std::vector<std::string>> attempt(const std::string& sql) {
        if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
            if (conn_) PQfinish(conn_);
            conn_ = PQconnectdb(url_.c_str());
            if (PQstatus(conn_) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn_));
        }
        std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn_, sql.c_str()), PQclear);
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
            const std::string e = PQerrorMessage(conn_);
            PQfinish(conn_);
            conn_ = nullptr;
            throw std::runtime_error("query failed: " + e);
        }
        std::vector<std::vector<std::string>> rows(PQntuples(r.get()));
        for (int i = 0; i < PQntuples(r.get()); ++i)
            for (int j = 0; j < PQnfields(r.get()); ++j) rows[i].emplace_back(PQgetvalue(r.get(), i, j));
        return rows;
    }

    std::string url_;
    PGconn* conn_ = nullptr;
};

// jobs-bench in back-to-back segments of 10 s (open loop) until stopped, each writing the uuids
// it got a 201 for: steady load for as long as the faults take, with every 201 accounted for.
class load {
  public:
    load(fs::path out_dir, unsigned short port)
        : out_(std::move(out_dir)), port_(port), thread_([this] { run(); }) {}
    ~load() { finish(); }
    void finish() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int segments() const { return segments_; }
    std::set<std::string> accepted() const {
        std::set<std::string> out;
        for (int k = 0; k < segments_; ++k) {
            std::istringstream in(read_text(out_ / ("accepted-" + std::to_string(k) + ".txt")));
            for (std::string line; std::getline(in, line);)
                if (!line.empty()) out.insert(line);
        }
        return out;
    }
    // Summed over the segments' JSON results: answers by status, requests without an answer by kind.
    struct totals {
        long good = 0, other = 0, failures = 0;
        std::map<std::string, long> status, errors;
    };
    totals answers() const {
        totals t;
        for (int k = 0; k < segments_; ++k) {
            const auto v = json::parse(read_text(out_ / ("bench-" + std::to_string(k) + ".json")));
            const auto& run = v.at("run");
            t.good += run.at("good").to_number<long>();
            t.other += run.at("answers").to_number<long>() - run.at("good").to_number<long>();
            t.failures += run.at("failures").to_number<long>();
            for (const auto& [code, n] : run.at("status").as_object()) t.status[code] += n.to_number<long>();
            for (const auto& [kind, n] : run.at("errors").as_object()) t.errors[kind] += n.to_number<long>();
        }
        return t;
    }
    static constexpr int rate = 100;  // jobs/s through HAProxy

  private:
    void run() {
        const std::string bench = env("JOBS_BENCH_BIN"), mix = env("JOBSD_BENCH_MIX");
        while (!stop_) {
            const auto k = std::to_string(segments_.load());
            const auto r = run_command(
                {bench, "-c", "16", "-t", "1", "-R", std::to_string(rate), "-d", "10", "--timeout", "5000",
                 "--quiet", "--payload", mix, "--accepted", (out_ / ("accepted-" + k + ".txt")).string(),
                 "--json", (out_ / ("bench-" + k + ".json")).string(),
                 "http://127.0.0.1:" + std::to_string(port_)},
                out_ / "bench.log", 60s);
            if (r.timed_out || !fs::exists(out_ / ("bench-" + k + ".json"))) {
                error_ = "jobs-bench segment " + k + " failed:\n" + r.output;
                return;
            }
            ++segments_;
        }
    }

    fs::path out_;
    unsigned short port_;
    std::atomic<bool> stop_{false};
    std::atomic<int> segments_{0};

  public:
    std::string error_;  // set by the load thread before it returns; read after finish()

  private:
    std::thread thread_;
};

struct fault {
    std::string name;
    double start = 0, end = 0;                   // test clock: the fault command began, and returned
    std::chrono::system_clock::time_point wall;  // when it returned
    std::vector<int> publishers;                 // jobsd expected to publish again afterwards
    recovery publish;                            // from `end`: the first and the last jobsd confirming again
    double accept_gap = 0, publish_gap = 0;      // longest cluster-wide stall around the fault
    double refused = 0;                          // 500 and 503 answers of jobsd around the fault
    std::map<std::string, double> extra;         // fault-specific figures
};

template <class Pred>
bool wait_for(Pred pred, std::chrono::seconds limit, std::chrono::milliseconds step = 250ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(step);
    }
    return pred();
}

// Waits (generously) until every jobsd in `f.publishers` has confirmed a job after the fault.
void await_publishing(fault& f, metrics_sampler& m) {
    const bool ok = wait_for(
        [&] {
            return recovery_after(m.samples(), f.publishers, counter::confirmed, f.end, 1e9)
                .every.has_value();
        },
        90s);
    BOOST_CHECK_MESSAGE(ok, f.name << ": a jobsd did not publish again within 90 s");
}

void await_replicas(cluster& c) {
    BOOST_REQUIRE_MESSAGE(wait_for([&] { return c.all_replicas_online(); }, 180s, 2s),
                          "quorum queues did not get their 3 members back online within 180 s");
}

// Seconds from `after` (wall clock) until a worker logged the delivery ("job <uuid> received") of
// a job in `fresh`: the first job accepted after a fault that reached its worker.
std::optional<double> first_delivery_of(const fs::path& log, const std::set<std::string>& fresh,
                                        std::chrono::system_clock::time_point after) {
    std::ifstream in(log);
    static const std::regex line_re(
        R"(^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})\].* job ([0-9a-f-]{36}) received)");
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (!std::regex_search(line, m, line_re) || !fresh.count(m[3].str())) continue;
        std::tm tm{};
        std::istringstream ts(m[1].str());
        ts >> std::get_time(&tm, "%Y-%m-%d %H:%M:%S");
        tm.tm_isdst = -1;
        const auto t = std::chrono::system_clock::from_time_t(std::mktime(&tm)) +
                       std::chrono::milliseconds(std::stoi(m[2].str()));
        return std::chrono::duration<double>(t - after).count();
    }
    return std::nullopt;
}

// Lines of jobsd's logs that contain `text`.
long count_log_lines(const fs::path& dir, const std::string& text) {
    long n = 0;
    for (int i = 1; i <= jobsd_count; ++i) {
        std::ifstream in(dir / ("jobsd" + std::to_string(i) + ".log"));
        for (std::string line; std::getline(in, line);) n += line.find(text) != std::string::npos;
    }
    return n;
}

// Deliveries per job over every worker's log ("job <uuid> received"): jobs delivered more than once.
std::pair<long, long> count_deliveries(const fs::path& dir) {
    std::map<std::string, int> seen;
    static const std::regex re(R"( job ([0-9a-f-]{36}) received)");
    for (const auto& t : job_types) {
        std::ifstream in(dir / ("worker-" + t + ".log"));
        for (std::string line; std::getline(in, line);) {
            std::smatch m;
            if (std::regex_search(line, m, re)) ++seen[m[1]];
        }
    }
    long deliveries = 0, duplicated = 0;
    for (const auto& [uuid, n] : seen) {
        deliveries += n;
        if (n > 1) ++duplicated;
    }
    return {deliveries, duplicated};
}

}  // namespace

BOOST_AUTO_TEST_CASE(counters_rise_and_gaps) {
    // Instance 1 stalls from 1.0 to 3.0 s, instance 2 is killed at 1.5 s and restarted at 4 s.
    std::vector<counter_sample> s;
    auto add = [&](double t, int i, bool up, double confirmed) { s.push_back({t, i, up, confirmed, 0}); };
    add(0.5, 1, true, 10), add(0.5, 2, true, 5);
    add(1.0, 1, true, 11), add(1.0, 2, true, 6);
    add(2.0, 1, true, 11), add(2.0, 2, false, 0);
    add(3.0, 1, true, 11), add(3.0, 2, false, 0);
    add(3.5, 1, true, 14), add(4.0, 2, true, 0), add(4.5, 2, true, 2);
    BOOST_TEST(*first_rise(s, 1, counter::confirmed, 1.5, 10) == 2.0);
    BOOST_TEST(*first_rise(s, 2, counter::confirmed, 1.5, 10) == 3.0);  // restarted at 0, then rose
    BOOST_TEST(!first_rise(s, 1, counter::confirmed, 1.5, 3.0));
    const auto r = recovery_after(s, {1, 2}, counter::confirmed, 1.5, 10);
    BOOST_TEST(*r.any == 2.0);
    BOOST_TEST(*r.every == 3.0);
    BOOST_TEST(longest_gap(s, counter::confirmed, 0.5, 4.5) == 2.5);  // from 1.0 to 3.5
    BOOST_TEST(total_rise(s, counter::confirmed, 0, 10) == 7);        // 1 + 3 and 1 + 2 after the restart
    BOOST_TEST(total_rise(s, counter::confirmed, 3.2, 10) == 5);
    BOOST_TEST(metric_value("a_total 3\nb_total{code=\"201\"} 42\n", R"(b_total{code="201"})") == 42);
    BOOST_TEST(metric_value("a_total_x 3\n", "a_total") == 0);
}

BOOST_AUTO_TEST_CASE(faults_lose_no_job, *boost::unit_test::timeout(590)) {
    cluster c;
    c.start();
    await_replicas(c);
    const fs::path out = c.dir() / "load";
    fs::create_directories(out);
    pg db(c.pg_url());
    const auto origin = std::chrono::steady_clock::now();
    std::vector<metrics_sampler::target> targets;
    for (int i = 1; i <= jobsd_count; ++i) targets.push_back({i, c.jobsd_port(i)});
    metrics_sampler m(targets, 100ms, origin);
    load bench(out, c.front_port());
    const std::vector<int> all{1, 2, 3};
    std::vector<fault> faults;
    auto begin = [&](std::string name, std::vector<int> publishers) {
        fault f;
        f.name = std::move(name);
        f.publishers = std::move(publishers);
        f.start = m.now();
        return f;
    };
    auto ended = [&](fault& f) {
        f.end = m.now();
        f.wall = std::chrono::system_clock::now();
    };
    std::this_thread::sleep_for(15s);  // steady state first

    // 1. kill -9 the node leading the busiest queue (ai_talking_video has the mix's largest weight).
    const std::string busy = "ai_talking_video";
    const int first = c.leader("jobs." + busy);
    fault f1 = begin("kill -9 node " + std::to_string(first) + " (leader of jobs." + busy + ")", all);
    c.run("node-kill", {std::to_string(first)});
    ended(f1);
    await_publishing(f1, m);
    std::this_thread::sleep_for(5s);
    c.run("node-start", {std::to_string(first)}, 300s);
    await_replicas(c);
    f1.extra["node_back_s"] = m.now() - f1.end;
    faults.push_back(f1);
    std::this_thread::sleep_for(5s);

    // 2. stop and restart a second node (gracefully).
    int second = c.leader("jobs.video");
    if (second == first) second = first % 3 + 1;
    fault f2 = begin("stop node " + std::to_string(second) + ", start it again", all);
    c.run("node-stop", {std::to_string(second)}, 180s);
    ended(f2);
    f2.extra["stop_s"] = f2.end - f2.start;
    await_publishing(f2, m);
    std::this_thread::sleep_for(5s);
    c.run("node-start", {std::to_string(second)}, 300s);
    await_replicas(c);
    f2.extra["node_back_s"] = m.now() - f2.end;
    faults.push_back(f2);
    std::this_thread::sleep_for(5s);

    // 3. kill -9 one jobsd: HAProxy moves to the others, which take its unpublished jobs over.
    fault f3 = begin("kill -9 jobsd 2", {1, 3});
    c.run("jobsd-kill", {"2"});
    ended(f3);
    std::vector<std::string> orphans;
    for (const auto& row : db.query("SELECT uuid FROM jobs WHERE NOT published AND claimed_by = 'jobsd-2'"))
        orphans.push_back(row[0]);
    await_publishing(f3, m);
    std::string in_list;
    for (const auto& u : orphans) in_list += (in_list.empty() ? "'" : ",'") + u + "'";
    const bool taken_over = orphans.empty() || wait_for(
                                                   [&] {
                                                       return db.count(
                                                                  "SELECT count(*) FROM jobs WHERE NOT "
                                                                  "published AND uuid IN (" +
                                                                  in_list + ")") == 0;
                                                   },
                                                   90s);
    BOOST_CHECK_MESSAGE(taken_over,
                        "jobsd 2's unpublished jobs were not published by the others within 90 s");
    f3.extra["orphaned_jobs"] = static_cast<double>(orphans.size());
    f3.extra["orphans_published_s"] = m.now() - f3.end;
    c.run("jobsd-start", {"2"}, 120s);
    faults.push_back(f3);
    std::this_thread::sleep_for(5s);

    // 4. restart PostgreSQL.
    fault f4 = begin("restart PostgreSQL", all);
    c.run("pg-restart", {}, 180s);
    ended(f4);
    f4.extra["restart_s"] = f4.end - f4.start;
    await_publishing(f4, m);
    const bool accepting = wait_for(
        [&] { return recovery_after(m.samples(), all, counter::created, f4.end, 1e9).any.has_value(); }, 90s);
    BOOST_CHECK_MESSAGE(accepting, "no 201 within 90 s of PostgreSQL's restart");
    faults.push_back(f4);
    std::this_thread::sleep_for(10s);

    bench.finish();
    BOOST_REQUIRE_MESSAGE(bench.error_.empty(), bench.error_);
    const double load_end = m.now();
    const auto samples = m.samples();
    for (std::size_t k = 0; k < faults.size(); ++k) {
        auto& f = faults[k];
        f.publish = recovery_after(samples, f.publishers, counter::confirmed, f.end, load_end);
        // Around the fault: from 1 s before it to the next fault (or 30 s, or the end of the load).
        const double from = std::max(0.0, f.start - 1);
        const double to = std::min({load_end, f.end + 30, k + 1 < faults.size() ? faults[k + 1].start : 1e9});
        f.accept_gap = longest_gap(samples, counter::created, from, to);
        f.publish_gap = longest_gap(samples, counter::confirmed, from, to);
        f.refused = total_rise(samples, counter::errors, from, to);
    }
    {
        // The busy queue's first job accepted after the leader's death, delivered to its worker.
        const auto after_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(faults[0].wall.time_since_epoch()).count();
        std::set<std::string> fresh;
        for (const auto& row : db.query("SELECT uuid FROM jobs WHERE job_type = '" + busy +
                                        "' AND created_ms > " + std::to_string(after_ms)))
            fresh.insert(row[0]);
        if (auto d = first_delivery_of(c.dir() / ("worker-" + busy + ".log"), fresh, faults[0].wall))
            faults[0].extra["new_job_delivered_s"] = *d;
    }

    // Every job reaches a terminal status; then every 201 must be among them.
    const std::string pending_sql =
        "SELECT count(*) FROM jobs WHERE NOT published OR job_status NOT IN "
        "('SUCCESS','FAILED','CANCELLED','EXPIRED')";
    long pending = -1;
    const auto drain_start = m.now();
    const bool drained = wait_for(
        [&] {
            try {
                pending = db.count(pending_sql);
            } catch (const std::exception&) {
            }
            return pending == 0;
        },
        240s, 1s);
    const double drain_s = m.now() - drain_start;
    std::map<std::string, std::string> status;
    for (const auto& row : db.query("SELECT uuid, job_status FROM jobs")) status[row[0]] = row[1];
    const auto accepted = bench.accepted();
    const auto totals = bench.answers();
    const long good = totals.good;
    long lost = 0, not_terminal = 0, failed = 0;
    for (const auto& u : accepted) {
        auto it = status.find(u);
        if (it == status.end()) {
            if (++lost <= 5) BOOST_ERROR("job " << u << " was answered 201 but is not in the store");
            continue;
        }
        if (it->second == "FAILED") ++failed;
        if (it->second != "SUCCESS" && it->second != "FAILED" && it->second != "CANCELLED" &&
            it->second != "EXPIRED")
            ++not_terminal;
    }
    const auto [deliveries, duplicated] = count_deliveries(c.dir());

    // The figures: printed, and kept for bench/RESULTS.md.
    auto fmt = [](std::optional<double> v) {
        std::ostringstream s;
        if (v)
            s << std::fixed << std::setprecision(1) << *v << " s";
        else
            s << "never";
        return s.str();
    };
    json::array fault_json;
    std::ostringstream report;
    report << std::fixed << std::setprecision(1) << "cluster chaos: " << load::rate
           << " jobs/s offered through HAProxy for " << load_end << " s (" << bench.segments()
           << " jobs-bench segments)\n";
    for (const auto& f : faults) {
        report << "  " << f.name << ": every jobsd publishing again after " << fmt(f.publish.every)
               << " (first " << fmt(f.publish.any) << "); longest cluster-wide gap: 201s " << f.accept_gap
               << " s, confirms " << f.publish_gap << " s; 500/503 answers " << f.refused;
        json::object o{
            {"fault", f.name},
            {"publish_every_s", f.publish.every ? json::value(*f.publish.every) : json::value(nullptr)},
            {"publish_first_s", f.publish.any ? json::value(*f.publish.any) : json::value(nullptr)},
            {"accept_gap_s", f.accept_gap},
            {"publish_gap_s", f.publish_gap},
            {"refused", f.refused}};
        for (const auto& [k, v] : f.extra) {
            report << "; " << k << " " << v;
            o[k] = v;
        }
        report << "\n";
        fault_json.push_back(std::move(o));
    }
    json::object by_status, by_error;
    report << "  answered 201: " << good << " (uuids " << accepted.size() << "); other answers:";
    for (const auto& [code, n] : totals.status)
        if (code != "201") report << " " << code << " x" << n, by_status[code] = n;
    report << "; requests without an answer:";
    for (const auto& [kind, n] : totals.errors)
        if (n) report << " " << kind << " x" << n, by_error[kind] = n;
    const long deadlocks = count_log_lines(c.dir(), "deadlock detected");
    report << "\n  PostgreSQL deadlocks logged by jobsd (issue 14, item 3): " << deadlocks << "\n"
           << "  in the store: " << status.size() << " jobs; 201s missing " << lost << ", not terminal "
           << not_terminal << ", FAILED " << failed << "; drained in " << drain_s << " s\n"
           << "  deliveries to workers " << deliveries << ", jobs delivered more than once " << duplicated
           << "\n";
    std::cout << report.str() << std::flush;
    const json::object summary{{"rate", load::rate},
                               {"load_s", load_end},
                               {"accepted", good},
                               {"other_answers", std::move(by_status)},
                               {"requests_without_answer", std::move(by_error)},
                               {"deadlocks_logged", deadlocks},
                               {"stored", status.size()},
                               {"lost", lost},
                               {"not_terminal", not_terminal},
                               {"failed", failed},
                               {"deliveries", deliveries},
                               {"delivered_more_than_once", duplicated},
                               {"drain_s", drain_s},
                               {"faults", std::move(fault_json)}};
    const fs::path output_dir = env("JOBSD_TEST_OUTPUT_DIR");
    fs::create_directories(output_dir);
    std::ofstream(output_dir / "cluster_chaos.json") << json::serialize(summary) << "\n";

    BOOST_CHECK_MESSAGE(drained, pending << " jobs still unpublished or not terminal 240 s after the load");
    BOOST_CHECK_GT(good, 1000);  // the load ran: at least ~10 s worth of jobs were accepted
    BOOST_CHECK_EQUAL(static_cast<long>(accepted.size()), good);  // every 201 carried a uuid we kept
    BOOST_CHECK_EQUAL(lost, 0);
    BOOST_CHECK_EQUAL(not_terminal, 0);
    BOOST_CHECK_GE(deliveries, static_cast<long>(accepted.size()));
    for (const auto& f : faults)
        BOOST_CHECK_MESSAGE(f.publish.every, f.name << ": publishing did not resume");
}

// Issue 14 with jobsd on the test PostgreSQL cluster and the test RabbitMQ node. Item 1: two
// jobsd under sustained overload (a broker slower than ingestion) with a short claim lease:
// neither publishes a job the other still holds, and publishing stays roughly oldest first.
// Item 2: a database outage is reported as one, while the broker connection stays up.
#define BOOST_TEST_MODULE reliability_pg_tests
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_test_schema.hpp"

namespace json = boost::json;
using namespace jobsd::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

command_result postgres_script(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"bash", required_env("JOBSD_POSTGRES_SCRIPT")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, std::filesystem::temp_directory_path() / "jobsd-postgres-script.log", 120s);
}

// Stops the test cluster; starts it again, at the latest on destruction.
class database_outage {
  public:
    ~database_outage() {
        if (down_) start();
    }
    void stop() {
        down_ = true;
        require_ok(postgres_script({"stop", required_env("JOBSD_TEST_POSTGRES_DIR")}), "postgres.sh stop");
    }
    void start() {
        require_ok(postgres_script({"start", required_env("JOBSD_TEST_POSTGRES_DIR")}), "postgres.sh start");
        down_ = false;
    }

  private:
    bool down_ = false;
};

// "2026-04-16T12:03:02.123Z" as milliseconds since the epoch.
std::int64_t iso_ms(const std::string& text) {
    std::tm tm{};
    std::istringstream in(text.substr(0, 19));
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    const std::int64_t ms = text.size() > 20 ? std::stoi(text.substr(20, 3)) : 0;
    return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

// For each message, how many jobs created after it reached the queue before it: 0 for a queue in
// creation order; for a job held back while newer ones went first, how many overtook it. Counted
// in jobs, not milliseconds, so the bound does not depend on how fast a loaded machine publishes.
std::vector<std::int64_t> overtaken_by(const std::vector<received>& in_queue_order) {
    std::vector<std::int64_t> created;
    for (const auto& m : in_queue_order)
        created.push_back(iso_ms(std::string(json::parse(m.body).at("created_at").as_string())));
    std::vector<std::int64_t> order = created;
    std::sort(order.begin(), order.end());
    order.erase(std::unique(order.begin(), order.end()), order.end());
    // A Fenwick tree over the creation times seen so far, by rank.
    std::vector<std::int64_t> tree(order.size() + 1, 0);
    std::vector<std::int64_t> counts;
    std::int64_t seen = 0;
    for (const auto c : created) {
        const auto rank =
            static_cast<std::size_t>(std::lower_bound(order.begin(), order.end(), c) - order.begin()) + 1;
        std::int64_t not_newer = 0;  // seen so far and created no later than this one
        for (auto i = rank; i > 0; i -= i & (~i + 1)) not_newer += tree[i];
        counts.push_back(seen - not_newer);
        for (auto i = rank; i < tree.size(); i += i & (~i + 1)) ++tree[i];
        ++seen;
    }
    return counts;
}

}  // namespace

// Item 2: the database goes away with jobs flowing. Before, a failed outbox read dropped the
// broker connection and /readyz stayed 200; now the broker stays connected, /healthz and
// /readyz name the store, and everything resumes when the database is back.
BOOST_AUTO_TEST_CASE(database_outage_is_reported_as_one_and_keeps_the_broker_connection) {
    auto broker = connect_test_broker();
    const topology_names names("pgdown");
    topology_cleanup cleanup(names);
    pg_test_schema schema;
    scoped_env env(
        jobsd_env(names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "300"}, {"JOBSD_STORE_CLAIM_LEASE_MS", "3000"}}));
    temp_dir dir("jobsd-rl-pgdown");
    jobsd_node server(dir, schema.url());
    BOOST_TEST_REQUIRE(wait_until([&] { return server.health().at("broker") == "connected"; }, 30s));
    std::vector<std::string> accepted{server.post_ok("video", 0), server.post_ok("tts", 1)};
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_outbox_unpublished") == 0; }, 20s));

    database_outage outage;
    outage.stop();
    BOOST_TEST(
        wait_until([&] { return server.readiness().second.find("store unavailable") != std::string::npos; },
                   20s),
        "/readyz does not name the store: " << server.readiness().second);
    BOOST_TEST(server.readiness().first == 503u);
    BOOST_TEST(server.health().at("store") == "unavailable");
    int broker_down = 0;
    for (int i = 0; i < 20; ++i) {
        broker_down += server.health().at("broker") != "connected";
        std::this_thread::sleep_for(200ms);
    }
    BOOST_TEST(broker_down == 0,
               "/healthz said the broker was not connected " << broker_down << " times of 20");
    BOOST_TEST(server.metric("jobsd_amqp_reconnects_total") == 0, server.summary());
    BOOST_TEST(server.metric("jobsd_outbox_errors_total") > 0, "no outbox read failed: " << server.summary());

    outage.start();
    BOOST_TEST(wait_until([&] { return server.readiness().first == 200u; }, 30s),
               "/readyz did not turn ready again: " << server.readiness().second);
    BOOST_TEST(server.health().at("store") == "ok");
    BOOST_TEST_REQUIRE(wait_until(
        [&] {
            if (auto uuid = server.post("image", 2)) accepted.push_back(*uuid);
            return accepted.size() == 3;
        },
        30s));
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_outbox_unpublished") == 0; }, 30s),
                       server.summary());
    BOOST_TEST(server.metric("jobsd_amqp_reconnects_total") == 0);
    const auto report = compare_deliveries(accepted, drain_job_queues(*broker, names));
    BOOST_TEST(report.missing.empty(), "never delivered: " << first_few(report.missing));
}

// Item 1: two jobsd on one database, a broker that first reads nothing (8 s of its memory alarm)
// and then takes one unconfirmed message at a time, a 3 s claim lease. Jobs wait in each jobsd's
// send queue far longer than the lease;
// before, their claims lapsed there and the other jobsd published them too, and even with
// renewals a renewal answered late (a busy database) let a job be sent on a lapsed claim. Every
// job must be published, roughly in creation order, and none twice except where at-least-once
// allows it: with the database slower than the lease (writes waiting seconds), a job confirmed
// but not yet marked published can lapse and be published again; its holder counts it
// (jobsd_outbox_marked_late_total). The hand-over is 1 024 jobs, so the renewals of what each
// jobsd holds do not themselves saturate the database.
// No worker drains the queues, so the fair queue is off: with it on, the backlog this case needs
// in the outbox would wait in the fair queue instead (issue 16).
BOOST_AUTO_TEST_CASE(overload_two_instances_send_oldest_first_never_on_a_lapsed_claim) {
    auto broker = connect_test_broker();
    const topology_names names("overload");
    topology_cleanup cleanup(names);
    pg_test_schema schema;
    scoped_env env(jobsd_env(names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "1000"},
                                     {"JOBSD_STORE_CLAIM_LEASE_MS", "3000"},
                                     {"JOBSD_AMQP_PUBLISH_QUEUE_MAX", "1024"},
                                     {"JOBSD_AMQP_CONFIRM_WINDOW", "1"},
                                     {"JOBSD_AMQP_RELAY_BATCH", "128"},
                                     {"JOBSD_LIFECYCLE_FAIR_WINDOW", "0"}}));
    temp_dir dir_a("jobsd-rl-over-a"), dir_b("jobsd-rl-over-b");
    jobsd_node a(dir_a, schema.url()), b(dir_b, schema.url());
    for (auto* n : {&a, &b})
        BOOST_TEST_REQUIRE(wait_until([&] { return n->health().at("broker") == "connected"; }, 30s));

    // The overload does not depend on how fast this machine's broker confirms: for its first
    // 8 s (more than two leases) the broker reads nothing from publishers (its memory alarm), so
    // every job held waits that long on renewed claims and a backlog builds whatever the rates;
    // then it takes one unconfirmed message at a time while the posters go on.
    memory_alarm alarm;
    alarm.raise();
    std::mutex mu;
    std::vector<std::string> accepted;
    std::atomic<bool> stop{false};
    std::vector<std::thread> posters;
    // Batches of 15 every 50 ms per poster (at most 1 200 jobs/s in all), up to 12 000 jobs:
    // an overload well past both send queues (2 048) that goes on after the alarm, bounded so
    // that one confirm at a time can drain it on a loaded machine too.
    constexpr std::size_t enough = 12'000;
    const auto posted_enough = [&] {
        std::lock_guard lock(mu);
        return accepted.size() >= enough;
    };
    for (int t = 0; t < 4; ++t)
        posters.emplace_back([&, t] {
            http_client client("127.0.0.1", (t % 2 ? a : b).port(), 20s);
            for (int n = 0; !stop && !posted_enough(); n += 15) {
                const auto next = steady::now() + 50ms;
                json::array jobs;
                for (int i = 0; i < 15; ++i)
                    jobs.push_back(json::parse(job_request("video", t * 1'000'000 + n + i)));
                try {
                    const auto res = client.post("/jobs/v2/batch", test_key,
                                                 json::serialize(json::object{{"jobs", jobs}}));
                    if (res.status == 201) {
                        const auto body = res.json();  // kept: the loop reads into it
                        std::lock_guard lock(mu);
                        for (const auto& j : body.at("jobs").as_array())
                            accepted.push_back(std::string(j.at("uuid").as_string()));
                    }
                } catch (const std::exception&) {
                }
                std::this_thread::sleep_until(next);
            }
        });
    // The broker blocks a connection at its first publish under the alarm.
    for (auto* n : {&a, &b})
        BOOST_TEST(wait_until([&] { return n->health().at("broker") == "blocked"; }, 30s),
                   "/healthz does not say blocked: " << json::serialize(n->health()));
    // Sampled every second while the overload lasts: the backlog and its oldest job's age.
    std::vector<std::pair<double, double>> samples;  // unpublished, oldest age (s)
    const auto begin = steady::now();
    while (steady::now() - begin < 30s) {
        std::this_thread::sleep_for(1s);
        const auto m = a.metrics();
        samples.emplace_back(m.at("jobsd_outbox_unpublished"), m.at("jobsd_outbox_oldest_age_seconds"));
        if (samples.size() == 8) alarm.clear();
    }
    stop = true;
    for (auto& p : posters) p.join();
    const double published_during =
        a.metric("jobsd_amqp_confirmed_total") + b.metric("jobsd_amqp_confirmed_total");
    // The overload happened: past what both send queues hold, so jobs waited in the outbox too
    // and were claimed by pages of either instance.
    double backlog = 0;
    for (const auto& s : samples) backlog = std::max(backlog, s.first);
    std::ostringstream trace;
    for (const auto& [n, age] : samples)
        trace << " " << n << "/" << std::fixed << std::setprecision(1) << age << "s";
    BOOST_TEST_MESSAGE(accepted.size()
                       << " accepted and " << published_during
                       << " published in 30 s; backlog/oldest age each second:" << trace.str());
    BOOST_TEST_REQUIRE(backlog > 2048, "no overload: at most " << backlog << " unpublished");
    // One confirm at a time drains at the broker's pace, which a loaded machine slows: waited for
    // while the backlog falls, a failure once it has not fallen for a minute.
    BOOST_TEST_REQUIRE(wait_draining([&] { return a.metric("jobsd_outbox_unpublished"); }, 60s, 480s),
                       "the backlog did not drain: " << a.summary() << " / " << b.summary());
    const auto got = broker->drain(names.queue("video"), 2s);
    const auto report = compare_deliveries(accepted, got);
    auto overtaken = overtaken_by(got);
    std::sort(overtaken.begin(), overtaken.end());
    const auto nth = [&](std::size_t per_hundred) {
        return overtaken.empty()
                   ? 0
                   : overtaken[std::min(overtaken.size() - 1, overtaken.size() * per_hundred / 100)];
    };
    const auto p99 = nth(99);
    BOOST_TEST_MESSAGE(got.size() << " delivered, " << report.duplicated.size()
                                  << " twice; newer jobs published before a job: p50 " << nth(50) << ", p99 "
                                  << p99 << ", max " << nth(100));
    BOOST_TEST(report.missing.empty(), report.missing.size()
                                           << " never delivered: " << first_few(report.missing));
    // Claims renewed too late on this busy machine are not a failure, a job sent on one is: a
    // job whose claim may have lapsed is left to the relay rather than sent (counted here).
    const double lapsed =
        a.metric("jobsd_outbox_claims_lapsed_total") + b.metric("jobsd_outbox_claims_lapsed_total");
    const double lost =
        a.metric("jobsd_outbox_claims_lost_total") + b.metric("jobsd_outbox_claims_lost_total");
    const double reconnects =
        a.metric("jobsd_amqp_reconnects_total") + b.metric("jobsd_amqp_reconnects_total");
    // A job sent on a live claim and marked only after the claim may have lapsed (the database
    // stalled longer than the 3 s lease, as it can on a loaded machine) may be sent again by the
    // other instance: at-least-once allows that duplicate, and its holder counts it. Any other
    // duplicate is a job sent on a claim that had lapsed or that the other instance held.
    const double marked_late =
        a.metric("jobsd_outbox_marked_late_total") + b.metric("jobsd_outbox_marked_late_total");
    BOOST_TEST_MESSAGE("jobs not sent on a claim that may have lapsed: "
                       << lapsed << "; claims lost: " << lost << "; marked after the claim may have lapsed: "
                       << marked_late << "; broker reconnects: " << reconnects);
    // A reconnect sends its one unconfirmed message (a confirm window of 1) again.
    BOOST_TEST(static_cast<double>(report.duplicated.size()) <= marked_late + reconnects,
               report.duplicated.size() << " jobs published twice, " << marked_late
                                        << " marked after their claim may have lapsed (" << lapsed
                                        << " left unsent on a lapsing claim, " << reconnects
                                        << " reconnects): " << first_few(report.duplicated));
    // Oldest first within what the two send queues hold: a job waits behind at most its own
    // instance's send queue (JOBSD_AMQP_PUBLISH_QUEUE_MAX, 1 024) while the other instance
    // publishes newer ones. A job whose claim may have lapsed (the database slower than the
    // lease, as on a loaded machine) is not sent but left to the relay: safety before order, so
    // such a job may wait longer. As many of the most overtaken jobs as claims lapsed or were lost
    // are set aside; 99 % of the rest must hold the bound.
    const auto set_aside = std::min(overtaken.size(), static_cast<std::size_t>(lapsed + lost));
    const std::vector<std::int64_t> kept(overtaken.begin(),
                                         overtaken.end() - static_cast<std::ptrdiff_t>(set_aside));
    const auto kept_p99 = kept.empty() ? 0 : kept[kept.size() * 99 / 100];
    BOOST_TEST(kept_p99 <= 4096,
               "1 % of the jobs were overtaken by more than "
                   << kept_p99 << " newer jobs (" << set_aside << " most overtaken set aside; " << lapsed
                   << " left unsent on a lapsing claim, " << lost << " claims lost, " << marked_late
                   << " marked late, " << reconnects << " reconnects; p99 of all " << p99 << ")");
}

// Issue 14 against the real test RabbitMQ node: the jobsd binary with publishing on, under names
// of each case's own. An unroutable type is paused, not cycled; dead-lettering is at least once
// (and a queue declared the old way is kept, not churned on); a memory alarm under load blocks
// nothing but the broker, and SIGTERM still finishes in bound; configuration that would break a
// promise stops jobsd at start; jobs stuck with no worker show in jobsctl.
#define BOOST_TEST_MODULE reliability_tests
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "queue/amqp_connection.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/jobsctl_runner.hpp"

namespace json = boost::json;
using namespace jobsd::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// The management API's view of one queue (JOBSD_TEST_MANAGEMENT_URL).
json::value management_queue(const std::string& queue) {
    const std::string base = required_env("JOBSD_TEST_MANAGEMENT_URL");  // http://guest:guest@host:port/
    const auto at = base.find('@');
    const auto host_port = base.substr(at + 1, base.find('/', at) - at - 1);
    const auto colon = host_port.find(':');
    http_client client(host_port.substr(0, colon),
                       static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1))));
    std::string target = "/api/queues/%2F/";
    for (char c : queue) target += c == '/' ? std::string("%2F") : std::string(1, c);
    const auto res = client.request(boost::beast::http::verb::get, target,
                                    {{"Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q="}});  // guest:guest
    if (res.status != 200)
        throw std::runtime_error("management API: GET " + target + " answered " + std::to_string(res.status));
    return res.json();
}

std::string log_text(jobsd_node& n) {
    return n.process().stderr_text();
}

}  // namespace

// Item 6: a queue deleted under a running jobsd (no worker redeclares it). Before: publish,
// return, retry, for ever, and the job never arrives. Now the type is paused (one return per
// pause), a metric and a log line name it, the topology is declared again, and the job arrives.
BOOST_AUTO_TEST_CASE(unroutable_type_is_paused_redeclared_and_then_delivered) {
    auto broker = connect_test_broker();
    const topology_names names("unroutable");
    topology_cleanup cleanup(names);
    scoped_env env(jobsd_env(names, {{"JOBSD_AMQP_TYPE_PAUSE_MAX_MS", "2000"}}));
    temp_dir dir("jobsd-rl-unroutable");
    jobsd_node server(dir);
    BOOST_TEST_REQUIRE(wait_until([&] { return server.health().at("broker") == "connected"; }, 30s));
    const auto video = server.post_ok("video", 0);
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_outbox_unpublished") == 0; }, 20s));

    broker->delete_queue(names.queue("pdf"));
    const auto pdf = server.post_ok("pdf", 1);
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_amqp_returned_total") >= 1; }, 15s),
                       "the job to a deleted queue was not returned: " << server.summary());
    BOOST_TEST(wait_until(
        [&] { return server.metric(R"(jobsd_amqp_type_pauses_total{job_type="pdf"})") >= 1; }, 10s));
    BOOST_TEST(server.metric(R"(jobsd_amqp_type_pauses_total{job_type="video"})") == 0);
    // Declared again by jobsd itself, the queue comes back and the paused job follows.
    BOOST_TEST(wait_until([&] { return broker->message_count(names.queue("pdf")).has_value(); }, 15s),
               "jobsd did not declare the deleted queue again");
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_outbox_unpublished") == 0; }, 30s),
                       "the paused job was never published: " << server.summary());
    // Bounded: a handful of returns, not one per retry delay for as long as the queue was gone.
    BOOST_TEST(server.metric("jobsd_amqp_returned_total") <= 3, server.summary());
    BOOST_TEST(server.metric(R"(jobsd_amqp_type_paused{job_type="pdf"})") == 0);
    BOOST_TEST(log_text(server).find("job type pdf paused") != std::string::npos,
               "no log line names the paused type");
    const auto report = compare_deliveries({video, pdf}, drain_job_queues(*broker, names));
    BOOST_TEST(report.missing.empty(), "never delivered: " << first_few(report.missing));
}

// Item 4: job queues dead-letter at least once (quorum: x-dead-letter-strategy at-least-once,
// with x-overflow reject-publish).
BOOST_AUTO_TEST_CASE(job_queues_dead_letter_at_least_once) {
    auto broker = connect_test_broker();
    const topology_names names("dlx");
    topology_cleanup cleanup(names);
    scoped_env env(jobsd_env(names));
    temp_dir dir("jobsd-rl-dlx");
    jobsd_node server(dir);
    BOOST_TEST_REQUIRE(wait_until([&] { return server.health().at("broker") == "connected"; }, 30s));
    for (const auto& type : all_job_type_names) {
        const auto q = management_queue(names.queue(type));
        const auto& args = q.at("arguments").as_object();
        BOOST_TEST_CONTEXT("queue " << names.queue(type) << ": " << json::serialize(args)) {
            BOOST_TEST(args.contains("x-dead-letter-strategy"));
            if (args.contains("x-dead-letter-strategy"))
                BOOST_TEST(args.at("x-dead-letter-strategy") == "at-least-once");
            BOOST_TEST(args.contains("x-overflow"));
            if (args.contains("x-overflow")) BOOST_TEST(args.at("x-overflow") == "reject-publish");
        }
    }
    BOOST_TEST(server.metric("jobsd_amqp_queues_with_other_arguments") == 0);
}

// Item 4's migration path: a queue an older jobsd declared with other arguments refuses the new
// declaration (406). jobsd keeps it, says so (log line, metric) and publishes to it, instead of
// reconnecting for ever. The same for the other queues it declares (a dead-letter queue here, of
// another queue type, as after amqp.queue_type changed).
BOOST_AUTO_TEST_CASE(queue_declared_with_old_arguments_is_kept_and_reported) {
    auto broker = connect_test_broker();
    const topology_names names("olddlx");
    topology_cleanup cleanup(names);
    {
        jobsd::queue::amqp_connection conn(test_broker_url(), 5s, 0);
        jobsd::queue::amqp_arguments old;
        old.add("x-queue-type", std::string("quorum"))
            .add("x-dead-letter-exchange", names.dead_exchange())
            .add("x-dead-letter-routing-key", std::string("video"))
            .add("x-delivery-limit", std::int64_t{5});
        conn.declare_queue(names.queue("video"), old);
        jobsd::queue::amqp_arguments classic;
        classic.add("x-queue-type", std::string("classic"));
        conn.declare_queue(names.dead_queue("video"), classic);
    }
    scoped_env env(jobsd_env(names));
    temp_dir dir("jobsd-rl-olddlx");
    jobsd_node server(dir);
    BOOST_TEST_REQUIRE(wait_until([&] { return server.health().at("broker") == "connected"; }, 30s),
                       "jobsd did not connect beside a queue with old arguments: " << server.diagnosis());
    const auto uuid = server.post_ok("video", 0);
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_outbox_unpublished") == 0; }, 20s),
                       server.summary());
    BOOST_TEST(server.metric("jobsd_amqp_queues_with_other_arguments") == 2);
    BOOST_TEST(server.metric("jobsd_amqp_reconnects_total") == 0);
    BOOST_TEST(log_text(server).find("exists with other arguments") != std::string::npos);
    const auto report = compare_deliveries({uuid}, drain_job_queues(*broker, names));
    BOOST_TEST(report.missing.empty());
}

// Item 5: the memory alarm under load. Jobs are still accepted (into the outbox), /healthz and
// /readyz say the broker is blocked, SIGTERM finishes within its bound although the broker reads
// nothing, and after the alarm every accepted job reaches its queue. Large jobs, so that what
// was sent before the broker stopped reading would fill the socket.
BOOST_AUTO_TEST_CASE(memory_alarm_under_load_accepts_jobs_and_shutdown_finishes_in_bound) {
    auto broker = connect_test_broker();
    const topology_names names("alarm");
    topology_cleanup cleanup(names);
    scoped_env env(jobsd_env(names, {{"JOBSD_SERVER_SHUTDOWN_GRACE_MS", "1000"}}));
    temp_dir dir("jobsd-rl-alarm");
    std::mutex mu;
    std::vector<std::string> accepted;
    std::vector<std::string> failures;
    memory_alarm alarm;
    double stop_s = 0;
    {
        jobsd_node server(dir);
        BOOST_TEST_REQUIRE(wait_until([&] { return server.health().at("broker") == "connected"; }, 30s));
        std::atomic<bool> stop{false};
        std::atomic<int> during_alarm{0};
        std::atomic<bool> alarm_on{false};
        std::vector<std::thread> posters;
        const std::string big(40'000, 'x');
        for (int t = 0; t < 2; ++t)
            posters.emplace_back([&, t] {
                http_client client("127.0.0.1", server.port(), 10s);
                for (int n = 0; !stop; ++n) {
                    try {
                        auto body = json::parse(job_request(all_job_type_names[(n + t) % 7], n)).as_object();
                        body["values"].as_object()["blob"] = big;
                        const auto res = client.post("/jobs/v2", test_key, json::serialize(body));
                        std::lock_guard lock(mu);
                        if (res.status == 201) {
                            accepted.push_back(std::string(res.json().at("job").at("uuid").as_string()));
                            if (alarm_on) ++during_alarm;
                        } else if (!stop) {
                            failures.push_back(std::to_string(res.status) + " " + res.body);
                        }
                    } catch (const std::exception& e) {
                        if (!stop) {
                            std::lock_guard lock(mu);
                            failures.push_back(e.what());
                        }
                        std::this_thread::sleep_for(50ms);
                    }
                    std::this_thread::sleep_for(20ms);
                }
            });
        std::this_thread::sleep_for(2s);
        alarm.raise();
        alarm_on = true;
        BOOST_TEST(wait_until([&] { return server.health().at("broker") == "blocked"; }, 20s),
                   "/healthz does not say blocked: " << json::serialize(server.health()));
        const auto ready = server.readiness();
        BOOST_TEST(ready.first == 503u);
        BOOST_TEST(ready.second.find("blocked") != std::string::npos, ready.second);
        std::this_thread::sleep_for(4s);
        BOOST_TEST(during_alarm > 20, "only " << during_alarm << " jobs accepted during the alarm");
        BOOST_TEST(server.metric("jobsd_amqp_blocked") == 1);
        // The load stops first: a request sent after SIGTERM meets a closed connection.
        stop = true;
        for (auto& p : posters) p.join();
        // SIGTERM while the broker reads nothing: grace 1 s, confirms 1 s, the close 1 s.
        const auto before = steady::now();
        const auto ended = server.process().stop(20s);
        stop_s = std::chrono::duration<double>(steady::now() - before).count();
        BOOST_TEST_MESSAGE("SIGTERM under the alarm took " << stop_s << " s");
        BOOST_TEST(!ended.forced, "jobsd did not exit within 20 s of SIGTERM under the alarm");
        BOOST_TEST(ended.exited);
        BOOST_TEST(ended.code == 0);
        BOOST_TEST(stop_s < 8.0);
    }
    alarm.clear();
    BOOST_TEST(failures.empty(), failures.size() << " posts failed, first: " << first_few(failures, 1));
    jobsd_node again(dir);
    BOOST_TEST_REQUIRE(wait_until([&] { return again.metric("jobsd_outbox_unpublished") == 0; }, 90s),
                       "outbox not drained after the alarm: " << again.summary());
    const auto report = compare_deliveries(accepted, drain_job_queues(*broker, names, 2s));
    BOOST_TEST_MESSAGE(accepted.size() << " accepted, " << report.duplicated.size() << " duplicated");
    BOOST_TEST(report.missing.empty(), report.missing.size() << " accepted jobs never reached a queue: "
                                                             << first_few(report.missing));
}

// A job cancelled and retried while its first attempt's message waits for a blocked broker: once
// the alarm ends, both attempts reach the queue (a worker skips the first, cancelled) and the
// outbox is empty. With the publisher knowing jobs by uuid, the retry was dropped at hand-over and
// the first attempt's confirm took it out of the outbox: QUEUED for good.
BOOST_AUTO_TEST_CASE(a_retry_made_while_the_first_attempt_waits_for_the_broker_is_published) {
    auto broker = connect_test_broker();
    const topology_names names("strand");
    topology_cleanup cleanup(names);
    scoped_env env(jobsd_env(names));
    temp_dir dir("jobsd-rl-strand");
    memory_alarm alarm;
    jobsd_node server(dir);
    BOOST_TEST_REQUIRE(wait_until([&] { return server.health().at("broker") == "connected"; }, 30s));
    alarm.raise();
    // The broker blocks a connection when it next publishes: jobs of another type are posted
    // until it has, and the job after them waits in the publisher.
    int probes = 0;
    BOOST_TEST_REQUIRE(wait_until(
                           [&] {
                               server.post_ok("pdf", ++probes);
                               return server.health().at("broker") == "blocked";
                           },
                           20s, 250ms),
                       json::serialize(server.health()));
    const auto uuid = server.post_ok("video", 0);
    http_client c("127.0.0.1", server.port(), 10s);
    const auto cancelled = c.post("/jobs/" + uuid + "/cancel", test_key, "");
    BOOST_TEST_REQUIRE(cancelled.status == 200u, cancelled.body);
    const auto retried = c.post("/jobs/" + uuid + "/retry", test_key, "");
    BOOST_TEST_REQUIRE(retried.status == 202u, retried.body);
    alarm.clear();
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_outbox_unpublished") == 0; }, 30s),
                       server.summary());
    std::set<std::int64_t> attempts;
    for (const auto& m : drain_job_queues(*broker, names))
        if (m.message_id == uuid) attempts.insert(json::parse(m.body).at("attempt").as_int64());
    BOOST_TEST((attempts == std::set<std::int64_t>{1, 2}), attempts.size()
                                                               << " attempt(s) reached the queue");
}

// Item 9: settings that would break a promise stop jobsd at start, naming the keys.
BOOST_AUTO_TEST_CASE(configuration_that_breaks_a_promise_stops_jobsd_at_start) {
    temp_dir dir("jobsd-rl-config");
    auto refused = [&](const env_list& vars, const std::string& store_url) -> std::string {
        scoped_env env(vars);
        try {
            jobsd_node n(dir, store_url);
            return "";
        } catch (const std::exception& e) {
            return e.what();
        }
    };
    const auto no_pdf =
        refused({{"JOBSD_AMQP_ENABLED", "true"},
                 {"JOBSD_AMQP_JOB_TYPES", "ai_talking_video,video,tts,image,photo_qc,ai_image_generation"}},
                "");
    BOOST_TEST(no_pdf.find("amqp.job_types") != std::string::npos, no_pdf);
    BOOST_TEST(no_pdf.find("pdf") != std::string::npos, no_pdf);
    const auto lease = refused({{"JOBSD_AMQP_ENABLED", "true"},
                                {"JOBSD_AMQP_RELAY_INTERVAL_MS", "5000"},
                                {"JOBSD_STORE_CLAIM_LEASE_MS", "5000"}},
                               "postgres://jobsd@127.0.0.1:1/jobsd");
    BOOST_TEST(lease.find("store.claim_lease_ms") != std::string::npos, lease);
    BOOST_TEST(lease.find("amqp.relay_interval_ms") != std::string::npos, lease);
}

// Item 4: a job no worker takes stays QUEUED; an operator sees it with jobsctl job stuck.
BOOST_AUTO_TEST_CASE(jobs_stuck_without_a_worker_are_listed_for_the_operator) {
    const topology_names names("stuck");
    topology_cleanup cleanup(names);
    scoped_env env(jobsd_env(names));
    temp_dir dir("jobsd-rl-stuck");
    const std::string store = "sqlite:" + (dir.path() / "jobs.db").string();
    std::string uuid;
    {
        jobsd_node server(dir);
        uuid = server.post_ok("tts", 0);
        BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_outbox_unpublished") == 0; }, 20s));
    }
    std::this_thread::sleep_for(1100ms);
    const auto stuck = run_jobsctl(dir.path(), store, {"--json", "job", "stuck", "--older-than", "1s"});
    BOOST_TEST_REQUIRE(stuck.code == 0, describe(stuck));
    BOOST_TEST(stuck.out.find(uuid) != std::string::npos, describe(stuck));
    const auto recent = run_jobsctl(dir.path(), store, {"--json", "job", "stuck", "--older-than", "1h"});
    BOOST_TEST_REQUIRE(recent.code == 0, describe(recent));
    BOOST_TEST(recent.out.find(uuid) == std::string::npos, describe(recent));
    const auto bad = run_jobsctl(dir.path(), store, {"job", "stuck", "--older-than", "soon"});
    BOOST_TEST(bad.code == 2, describe(bad));
}

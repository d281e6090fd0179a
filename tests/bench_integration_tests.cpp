// Runs the jobs-bench binary against a real jobsd (a child on a fresh SQLite file) publishing to
// the test RabbitMQ: a 5 s closed loop and a 5 s --e2e run, judged from the JSON result file.
#define BOOST_TEST_MODULE bench_integration_tests
#include <boost/test/unit_test.hpp>

#include <amqp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "queue/amqp_connection.hpp"
#include "tests/support/jobsd_process.hpp"

namespace json = boost::json;
using jobsd::test::jobsd_process;
using jobsd::test::required_env;
using jobsd::test::temp_dir;

namespace {

const char* const job_types[] = {"ai_talking_video",   "video", "tts", "image", "photo_qc", "pdf",
                                 "ai_image_generation"};

// Names jobsd and jobs-bench use in this run only, so parallel runs and the real topology are
// never touched; removed again by the fixture.
struct topology_names {
    std::string prefix = "jobs-bench-it-" + std::to_string(::getpid()) + ".";
    std::string exchange = prefix + "jobs";
    std::string queue_prefix = prefix + "jobs.";
    std::string dead_exchange = prefix + "dead";
    std::string dead_queue_prefix = prefix + "dead.";
    std::string events_exchange = prefix + "events";
    std::string events_queue = prefix + "events.q";
};

std::string broker_url() {
    return required_env("JOBSD_TEST_AMQP_URL");
}

// Fails the test with a message naming the broker and how to start it, instead of a bench error.
void require_broker() {
    try {
        jobsd::queue::amqp_connection probe(broker_url(), std::chrono::seconds(5), 0);
    } catch (const std::exception& e) {
        BOOST_FAIL("the test RabbitMQ is not reachable at "
                   << jobsd::queue::redact_url(broker_url()) << " (" << e.what()
                   << "); start it with: scripts/rabbitmq.sh start var/test-rabbitmq 5682");
    }
}

void delete_topology(const topology_names& n) {
    try {
        jobsd::queue::amqp_connection c(broker_url(), std::chrono::seconds(5), 0);
        auto bytes = [](const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; };
        for (const char* t : job_types) {
            for (const auto& q : {n.queue_prefix + t, n.dead_queue_prefix + t}) {
                amqp_queue_delete(c.state(), jobsd::queue::amqp_connection::channel, bytes(q), 0, 0);
                c.check_last("deleting " + q);
            }
        }
        amqp_queue_delete(c.state(), jobsd::queue::amqp_connection::channel, bytes(n.events_queue), 0, 0);
        c.check_last("deleting " + n.events_queue);
        for (const auto& x : {n.exchange, n.dead_exchange, n.events_exchange}) {
            amqp_exchange_delete(c.state(), jobsd::queue::amqp_connection::channel, bytes(x), 0);
            c.check_last("deleting " + x);
        }
    } catch (const std::exception& e) {
        BOOST_TEST_MESSAGE("cleanup of the test topology failed: " << e.what());
    }
}

// One jobsd publishing to the test broker under unique names, shared by the suite.
struct jobsd_with_broker {
    topology_names names;
    temp_dir dir{"jobs-bench-it"};
    std::unique_ptr<jobsd_process> server;

    jobsd_with_broker() {
        require_broker();
        const std::string src = required_env("JOBSD_SOURCE_DIR");
        ::setenv("JOBSD_AMQP_ENABLED", "true", 1);
        ::setenv("JOBSD_AMQP_URLS", broker_url().c_str(), 1);
        ::setenv("JOBSD_AMQP_EXCHANGE", names.exchange.c_str(), 1);
        ::setenv("JOBSD_AMQP_QUEUE_PREFIX", names.queue_prefix.c_str(), 1);
        ::setenv("JOBSD_AMQP_DEAD_EXCHANGE", names.dead_exchange.c_str(), 1);
        ::setenv("JOBSD_AMQP_DEAD_QUEUE_PREFIX", names.dead_queue_prefix.c_str(), 1);
        ::setenv("JOBSD_AMQP_EVENTS_EXCHANGE", names.events_exchange.c_str(), 1);
        ::setenv("JOBSD_AMQP_EVENTS_QUEUE", names.events_queue.c_str(), 1);
        ::setenv("JOBSD_AMQP_QUEUE_TYPE", "classic",
                 1);  // lighter on a 2-core machine; loss is what is judged
        server = std::make_unique<jobsd_process>(
            required_env("JOBSD_BIN"),
            std::vector<std::string>{"--config", src + "/conf/jobsd.json", "--port", "0", "--store",
                                     "sqlite:" + (dir.path() / "jobs.db").string(), "--seed",
                                     src + "/conf/seed.json"},
            dir.path());
    }
    ~jobsd_with_broker() {
        if (server && server->running()) server->stop();
        delete_topology(names);
    }

    std::string url() const { return "http://" + server->host() + ":" + std::to_string(server->port()); }

    // Runs jobs-bench with `args` plus the payload file and a JSON result; returns its exit code
    // and the parsed result. jobs-bench bounds its own run (-d + grace + e2e grace); the ctest
    // TIMEOUT is the backstop.
    std::pair<int, json::object> bench(const std::string& name, const std::string& args) {
        const std::string src = required_env("JOBSD_SOURCE_DIR");
        const auto json_path = dir.path() / (name + ".json");
        const auto log_path = dir.path() / (name + ".log");
        const std::string cmd = "'" + required_env("JOBS_BENCH_BIN") + "' --quiet --payload '" + src +
                                "/conf/bench/mix.json' --json '" + json_path.string() + "' " + args + " " +
                                url() + " > '" + log_path.string() + "' 2>&1";
        const int status = std::system(cmd.c_str());
        std::ifstream log(log_path);
        std::stringstream text;
        text << log.rdbuf();
        BOOST_TEST_MESSAGE("jobs-bench " << name << ":\n" << text.str());
        BOOST_TEST_REQUIRE(WIFEXITED(status), "jobs-bench did not exit normally: " << text.str());
        std::ifstream in(json_path);
        BOOST_TEST_REQUIRE(in.good(), "jobs-bench wrote no JSON result: " << text.str() << "\njobsd: "
                                                                          << server->diagnosis());
        std::stringstream body;
        body << in.rdbuf();
        return {WEXITSTATUS(status), json::parse(body.str()).as_object()};
    }
};

std::uint64_t u64(const json::value& v) {
    return v.to_number<std::uint64_t>();
}

void check_clean_run(const json::object& run) {
    BOOST_TEST(run.at("scenario").as_string() == "create");
    BOOST_TEST(u64(run.at("answers")) > 0u);
    BOOST_TEST(u64(run.at("good")) == u64(run.at("answers")));  // every answer a 201
    for (const auto& [kind, n] : run.at("errors").as_object()) {
        BOOST_TEST_INFO("error kind " << kind);
        BOOST_TEST(u64(n) == 0u);
    }
    BOOST_TEST(run.at("latency").at("p99_ms").to_number<double>() > 0.0);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(jobs_bench_against_jobsd, jobsd_with_broker)

BOOST_AUTO_TEST_CASE(closed_loop_then_e2e_without_loss) {
    {
        auto [rc, result] = bench("closed", "-c 16 -t 2 -d 5 --min-rps 1");
        BOOST_TEST(rc == 0);
        check_clean_run(result.at("run").as_object());
        BOOST_TEST(result.at("run").at("model").as_string() == "closed");
    }
    {
        auto [rc, result] = bench("e2e", "-c 16 -t 2 -d 5 --e2e --e2e-grace 30 --max-loss 0 --amqp '" +
                                             broker_url() + "' --exchange '" + names.exchange + "'");
        BOOST_TEST(rc == 0);
        check_clean_run(result.at("run").as_object());
        const auto& e2e = result.at("e2e").as_object();
        BOOST_TEST(!e2e.contains("error"));
        BOOST_TEST(u64(e2e.at("accepted")) == u64(result.at("run").at("good")));
        BOOST_TEST(u64(e2e.at("accepted")) > 0u);
        BOOST_TEST(u64(e2e.at("lost")) == 0u);
        BOOST_TEST(u64(e2e.at("delivered")) == u64(e2e.at("accepted")));
        BOOST_TEST(result.at("passed").as_bool());
    }
}

BOOST_AUTO_TEST_CASE(refused_target_is_counted_and_bounded) {
    // A port nobody listens on: every connect is refused; the run still ends after -d and says so.
    const auto started = std::chrono::steady_clock::now();
    const std::string cmd = "'" + required_env("JOBS_BENCH_BIN") + "' --quiet -c 4 -d 1 --payload '" +
                            required_env("JOBSD_SOURCE_DIR") + "/conf/bench/mix.json' --json '" +
                            (dir.path() / "refused.json").string() + "' http://127.0.0.1:1 > /dev/null 2>&1";
    const int status = std::system(cmd.c_str());
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    BOOST_TEST(took < 10.0);
    BOOST_TEST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 1);
    std::ifstream in(dir.path() / "refused.json");
    std::stringstream body;
    body << in.rdbuf();
    const auto run = json::parse(body.str()).at("run").as_object();
    BOOST_TEST(u64(run.at("answers")) == 0u);
    BOOST_TEST(u64(run.at("errors").at("connect")) > 0u);
    BOOST_TEST(run.at("first_errors").at("connect").as_string().find("refused") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

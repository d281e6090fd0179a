// Runs the jobs-bench binary against a real jobsd (a child on a fresh SQLite file) publishing to
// the test RabbitMQ: a 5 s closed loop and a 5 s --e2e run, judged from the JSON result file.
#define BOOST_TEST_MODULE bench_integration_tests
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/jobsd_process.hpp"
#include "tests/support/test_broker.hpp"

namespace json = boost::json;
using jobsd::test::jobsd_process;
using jobsd::test::required_env;
using jobsd::test::temp_dir;
using jobsd::test::test_broker_url;
using jobsd::test::topology_names;

namespace {

// One jobsd publishing to the test broker under unique names, shared by the suite, on the
// project's own configuration and demo seed (the payload mix names the demo projects).
struct jobsd_with_broker {
    topology_names names{"jobs-bench-it-"};
    jobsd::test::topology_cleanup cleanup{names};
    temp_dir dir{"jobs-bench-it"};
    std::unique_ptr<jobsd_process> server;

    jobsd_with_broker() {
        jobsd::test::connect_test_broker();  // fails with a message naming the broker, not a bench error
        const std::string src = required_env("JOBSD_SOURCE_DIR");
        jobsd::test::jobsd_options o;
        o.config = src + "/conf/jobsd.json";
        o.seed = src + "/conf/seed.json";
        // Classic queues: lighter on a 2-core machine; loss is what is judged.
        // No worker drains the job queues (--e2e reads copies from a queue of its own): the fair
        // queue is off, or jobs past lifecycle.fair_window would wait for workers.
        o.env = jobsd::test::publishing_env(
            names, {{"JOBSD_AMQP_QUEUE_TYPE", "classic"}, {"JOBSD_LIFECYCLE_FAIR_WINDOW", "0"}});
        server = jobsd::test::start_jobsd(dir, o);
    }
    ~jobsd_with_broker() {
        if (server && server->running()) server->stop();
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
        // No rate floor here: how fast it runs is measured by scripts/bench, never asserted in a test.
        auto [rc, result] = bench("closed", "-c 16 -t 2 -d 5");
        BOOST_TEST(rc == 0);
        check_clean_run(result.at("run").as_object());
        BOOST_TEST(result.at("run").at("model").as_string() == "closed");
    }
    {
        auto [rc, result] = bench("e2e", "-c 16 -t 2 -d 5 --e2e --e2e-grace 30 --max-loss 0 --amqp '" +
                                             test_broker_url() + "' --exchange '" + names.exchange() + "'");
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
    BOOST_TEST(took < 60.0, "a 1 s run took " << took << " s");  // bounded: it ends on its own
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

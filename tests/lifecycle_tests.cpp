// Job lifecycle end to end (issue 16): cancel, retry, automatic retries, expiry, stuck jobs and
// jobsd's crash between a cancel's commit and its delivery, with jobsd, real jobs-worker
// processes and the real test broker, on SQLite and on PostgreSQL.
#define BOOST_TEST_MODULE lifecycle
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "tests/support/amqp_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsctl_runner.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

#include "tests/lifecycle_world.hpp"

using namespace jobsd::test;
using namespace jobsd::test::lifecycle;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {
// --- the cases, each run on both stores -----------------------------------------------------

// The worker (one job at a time) is busy with `blocker` while `doomed` waits at the broker behind
// it; the cancel reaches the worker as a broadcast, and `doomed` is acked unrun when it arrives.
void cancel_queued_job_never_runs(backend b) {
    world w(b);
    auto c = w.client();
    w.start_exec_worker("sleep 3; echo '{\"ok\":true}'");
    const auto blocker = w.post(c);
    const auto doomed = w.post(c);
    w.wait_status(c, blocker, "STARTED");
    BOOST_TEST(w.job(c, doomed).at("job_status").as_string() == "QUEUED");
    auto r = post_action(c, doomed, "cancel");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(status_in(r) == "CANCELLED");
    const auto next = w.post(c);
    w.wait_status(c, next, "SUCCESS");
    // The queue is taken in order: `doomed` came before `next` and was acked without running.
    const auto ran = w.ran();
    BOOST_TEST(std::count(ran.begin(), ran.end(), doomed) == 0);
    BOOST_TEST(std::count(ran.begin(), ran.end(), blocker) == 1);
    BOOST_TEST(std::count(ran.begin(), ran.end(), next) == 1);
    BOOST_TEST(w.job(c, doomed).at("job_status").as_string() == "CANCELLED");
    BOOST_TEST(w.worker_logs().find("cancelled before it started") != std::string::npos, w.worker_logs());
}

// A running exec job: its command ignores SIGTERM, so only the SIGKILL after the grace ends it.
void cancel_running_exec_job(backend b) {
    world w(b);
    auto c = w.client();
    sse_client events(w.server->host(), w.server->port(), key_a, "s-run");
    w.start_exec_worker("trap '' TERM; sleep 120", {"--kill-grace-ms", "1000"});
    const auto uuid = w.post(c, {}, "s-run");
    BOOST_TEST_REQUIRE(wait_until([&] { return w.command_pid() != 0; }, 60s), w.worker_logs());
    const pid_t pid = w.command_pid();
    BOOST_TEST_REQUIRE(process_alive(pid));
    w.wait_status(c, uuid, "STARTED");

    const auto asked = std::chrono::steady_clock::now();
    auto r = post_action(c, uuid, "cancel");
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST(r.json().at("job").at("cancel_requested").as_bool());
    // Cancelling twice is harmless: the same answer, nothing sent again.
    auto again = post_action(c, uuid, "cancel");
    BOOST_TEST(again.status == 202u, again.body);

    BOOST_TEST(wait_until([&] { return !process_alive(pid); }, 30s), "the command outlived its cancel");
    const auto gone_after = std::chrono::steady_clock::now() - asked;
    auto job = w.wait_status(c, uuid, "CANCELLED");
    BOOST_TEST(!job.contains("cancel_requested"));
    // SIGTERM was ignored: the group lived through the grace, then SIGKILL came (the bound is
    // generous for a busy machine; the lower one shows the grace was honoured).
    BOOST_TEST(gone_after >= 900ms);
    BOOST_TEST(gone_after < 20s);
    BOOST_TEST(events.wait_for(
        [&](const auto& evs) {
            for (const auto& e : evs)
                if (e.at("uuid").as_string() == uuid && e.at("job_status").as_string() == "CANCELLED")
                    return true;
            return false;
        },
        30s));
    // A finished job cannot be cancelled, and the answer says what it is; so does a repeat.
    auto twice = post_action(c, uuid, "cancel");
    BOOST_TEST(twice.status == 200u, twice.body);
    BOOST_TEST(status_in(twice) == "CANCELLED");
}

void cancel_finished_job_is_409(backend b) {
    world w(b);
    auto c = w.client();
    w.start_exec_worker("echo '{\"ok\":true}'");
    const auto uuid = w.post(c);
    w.wait_status(c, uuid, "SUCCESS");
    auto r = post_action(c, uuid, "cancel");
    BOOST_TEST(r.status == 409u, r.body);
    BOOST_TEST(r.json().at("job_status").as_string() == "SUCCESS");
    auto retry = post_action(c, uuid, "retry");
    BOOST_TEST(retry.status == 409u, retry.body);
    BOOST_TEST(w.job(c, uuid).at("job_status").as_string() == "SUCCESS");
}

// The command fails until a marker file exists; the test creates it before the retry.
void retry_failed_job_to_success(backend b) {
    world w(b);
    auto c = w.client();
    const auto marker = (w.dir.path() / "fixed").string();
    w.start_exec_worker("if [ -e " + marker +
                        " ]; then echo '{\"ok\":true}'; else echo broken >&2; exit 3; fi");
    const auto uuid = w.post(c);
    auto failed = w.wait_status(c, uuid, "FAILED");
    BOOST_TEST(failed.at("attempts").as_int64() == 1);
    BOOST_TEST(std::string(failed.at("error").as_string()).find("broken") != std::string::npos);
    std::ofstream(marker) << "1";
    auto r = post_action(c, uuid, "retry");
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    BOOST_TEST(r.json().at("job").at("attempts").as_int64() == 2);
    auto done = w.wait_status(c, uuid, "SUCCESS");
    BOOST_TEST(done.at("attempts").as_int64() == 2);
    BOOST_TEST(done.at("uuid").as_string() == uuid);
}

// Exit code 75 is a retryable failure: jobsd retries the job by itself after its backoff.
void retryable_failure_retried_automatically(backend b) {
    world w(b);
    auto c = w.client();
    const auto marker = (w.dir.path() / "tried").string();
    w.start_exec_worker("if [ -e " + marker + " ]; then echo '{\"ok\":true}'; else touch " + marker +
                        "; echo busy >&2; exit 75; fi");
    const auto uuid = w.post(c);
    auto done = w.wait_status(c, uuid, "SUCCESS");
    BOOST_TEST(done.at("attempts").as_int64() == 2);
}

// Retryable failures stop at the type's limit: FAILED with the last error after max_attempts.
void retryable_failures_stop_at_the_limit(backend b) {
    world w(b, {{"JOBSD_LIFECYCLE_MAX_ATTEMPTS", "2"}});
    auto c = w.client();
    w.start_exec_worker("echo 'still busy' >&2; exit 75");
    const auto uuid = w.post(c);
    auto failed = w.wait_status(c, uuid, "FAILED");
    BOOST_TEST(failed.at("attempts").as_int64() == 2);
    BOOST_TEST(std::string(failed.at("error").as_string()).find("still busy") != std::string::npos);
    BOOST_TEST(w.ran().size() == 2u);
}

// No worker: the message's TTL runs out in the queue, RabbitMQ dead-letters it as expired.
void job_expires_in_the_queue(backend b) {
    world w(b);
    auto c = w.client();
    const auto uuid = w.post(c, {{"expires_in_s", 1}});
    BOOST_TEST(w.job(c, uuid).contains("expires_at"));
    auto job = w.wait_status(c, uuid, "EXPIRED", 60s);
    BOOST_TEST(job.at("attempts").as_int64() == 1);
    // A worker that starts afterwards runs nothing.
    const auto next = w.post(c);
    w.start_exec_worker("echo '{\"ok\":true}'");
    w.wait_status(c, next, "SUCCESS");
    const auto ran = w.ran();
    BOOST_TEST(std::count(ran.begin(), ran.end(), uuid) == 0);
    // An expired job can be retried, with a new deadline.
    auto r = post_action(c, uuid, "retry", key_a, R"({"expires_in_s": 60})");
    BOOST_TEST_REQUIRE(r.status == 202u, r.body);
    w.wait_status(c, uuid, "SUCCESS");
}

// The broker expires a message only at the head of its queue, so a job behind one without a
// deadline waits past its own. While a worker consumes the type, jobsd leaves it to the worker
// (which skips it when it gets there); once no worker consumes the type, jobsd expires it.
void job_behind_another_expires_once_no_worker_consumes(backend b) {
    world w(b, {{"JOBSD_LIFECYCLE_UNCONSUMED_EXPIRY_AFTER_MS", "1000"}});
    auto c = w.client();
    w.start_exec_worker("sleep 120", {"--kill-grace-ms", "500"});
    const auto blocker = w.post(c);
    BOOST_TEST_REQUIRE(wait_until([&] { return w.command_pid() != 0; }, 60s), w.worker_logs());
    const auto first = w.post(c);  // no deadline: the broker never expires what is behind it
    const auto doomed = w.post(c, {{"expires_in_s", 1}});
    std::this_thread::sleep_for(3500ms);  // its deadline and the margin, then two sweeps
    BOOST_TEST(w.job(c, doomed).at("job_status").as_string() == "QUEUED");

    w.workers.clear();  // the type's only consumer goes
    auto job = w.wait_status(c, doomed, "EXPIRED", 30s);
    BOOST_TEST(job.at("attempts").as_int64() == 1);
    BOOST_TEST(w.job(c, first).at("job_status").as_string() == "QUEUED");
    BOOST_TEST(c.get("/metrics").body.find("jobsd_jobs_expired_unconsumed_total 1\n") != std::string::npos);

    // A worker that comes later runs the others and skips the expired job.
    w.start_exec_worker("echo '{\"ok\":true}'");
    w.wait_status(c, first, "SUCCESS");
    w.wait_status(c, blocker, "SUCCESS");
    const auto ran = w.ran();
    BOOST_TEST(std::count(ran.begin(), ran.end(), doomed) == 0);
    BOOST_TEST(w.job(c, doomed).at("job_status").as_string() == "EXPIRED");
}

// While the broker's memory alarm is on, it reads nothing from a connection that publishes: a
// cancel commits in jobsd but cannot leave it. Lifted at the latest on destruction (the support
// library's node_change), whatever happened.
std::unique_ptr<node_change> memory_alarm() {
    auto alarm =
        std::make_unique<node_change>(std::vector<std::string>{"set_vm_memory_high_watermark", "0"},
                                      std::vector<std::string>{"set_vm_memory_high_watermark", "0.4"});
    std::this_thread::sleep_for(1s);  // the alarm reaches every connection's reader
    return alarm;
}

// jobsd is SIGKILLed after the cancel's commit and before any worker heard of it; restarted,
// it relays the cancel from its control outbox and the job still ends CANCELLED.
void crash_between_cancel_commit_and_delivery(backend b) {
    world w(b);
    auto c = w.client();
    w.start_exec_worker("sleep 120", {"--kill-grace-ms", "1000"});
    const auto uuid = w.post(c);
    BOOST_TEST_REQUIRE(wait_until([&] { return w.command_pid() != 0; }, 60s), w.worker_logs());
    const pid_t pid = w.command_pid();
    w.wait_status(c, uuid, "STARTED");
    {
        auto alarm = memory_alarm();
        auto r = post_action(c, uuid, "cancel");
        BOOST_TEST_REQUIRE(r.status == 202u, r.body);
        std::this_thread::sleep_for(500ms);  // the control publisher tries, and is held
        w.server->kill9();
        BOOST_TEST_REQUIRE(process_alive(pid), "the worker heard of the cancel before the crash");
        alarm->undo();
    }
    w.start_server();
    auto c2 = w.client();
    BOOST_TEST(wait_until([&] { return !process_alive(pid); }, 60s), "the cancel never reached the worker");
    auto job = w.wait_status(c2, uuid, "CANCELLED");
    BOOST_TEST(job.at("attempts").as_int64() == 1);
}

// A job whose worker says nothing past stuck_after_s: counted at /metrics, listed by `jobsctl
// job stuck`, and `jobsctl job requeue` stops the silent attempt and runs the next one.
void stuck_job_seen_and_requeued(backend b) {
    world w(b, {{"JOBSD_LIFECYCLE_STUCK_AFTER_S", "1"}});
    auto c = w.client();
    w.start_exec_worker("sleep 120", {"--kill-grace-ms", "500"});
    const auto uuid = w.post(c);
    BOOST_TEST_REQUIRE(wait_until([&] { return w.command_pid() != 0; }, 60s), w.worker_logs());
    const pid_t first = w.command_pid();
    w.wait_status(c, uuid, "STARTED");
    BOOST_TEST(wait_until(
        [&] {
            return c.get("/metrics").body.find("jobsd_jobs_stuck{job_type=\"pdf\"} 1") != std::string::npos;
        },
        30s));
    const auto listed =
        run_jobsctl(w.dir.path(), w.store_url(), {"--json", "job", "stuck", "--older-than", "1"});
    BOOST_TEST_REQUIRE(listed.code == 0, describe(listed));
    const auto stuck = json::parse(listed.out).as_array();
    BOOST_TEST_REQUIRE(stuck.size() == 1u, listed.out);
    BOOST_TEST(stuck[0].at("uuid").as_string() == uuid);

    std::filesystem::remove(w.dir.path() / ("pid-" + std::to_string(first)));
    const auto requeued = run_jobsctl(w.dir.path(), w.store_url(), {"job", "requeue", uuid});
    BOOST_TEST_REQUIRE(requeued.code == 0, describe(requeued));
    BOOST_TEST(wait_until([&] { return !process_alive(first); }, 30s), "the silent attempt was not stopped");
    // The next attempt runs (a new command) as attempt 2.
    BOOST_TEST(wait_until([&] { return w.command_pid() != 0 && w.command_pid() != first; }, 60s),
               w.worker_logs());
    BOOST_TEST(w.job(c, uuid).at("attempts").as_int64() == 2);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sqlite)
BOOST_AUTO_TEST_CASE(cancel_queued) {
    cancel_queued_job_never_runs(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(cancel_running) {
    cancel_running_exec_job(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(cancel_finished) {
    cancel_finished_job_is_409(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(retry_failed) {
    retry_failed_job_to_success(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(automatic_retry) {
    retryable_failure_retried_automatically(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(retry_limit) {
    retryable_failures_stop_at_the_limit(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(expiry) {
    job_expires_in_the_queue(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(expiry_unconsumed) {
    job_behind_another_expires_once_no_worker_consumes(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(crash_after_cancel_commit) {
    crash_between_cancel_commit_and_delivery(backend::sqlite);
}
BOOST_AUTO_TEST_CASE(stuck_job) {
    stuck_job_seen_and_requeued(backend::sqlite);
}
BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(postgres)
BOOST_AUTO_TEST_CASE(cancel_queued) {
    cancel_queued_job_never_runs(backend::postgres);
}
BOOST_AUTO_TEST_CASE(cancel_running) {
    cancel_running_exec_job(backend::postgres);
}
BOOST_AUTO_TEST_CASE(cancel_finished) {
    cancel_finished_job_is_409(backend::postgres);
}
BOOST_AUTO_TEST_CASE(retry_failed) {
    retry_failed_job_to_success(backend::postgres);
}
BOOST_AUTO_TEST_CASE(automatic_retry) {
    retryable_failure_retried_automatically(backend::postgres);
}
BOOST_AUTO_TEST_CASE(retry_limit) {
    retryable_failures_stop_at_the_limit(backend::postgres);
}
BOOST_AUTO_TEST_CASE(expiry) {
    job_expires_in_the_queue(backend::postgres);
}
BOOST_AUTO_TEST_CASE(expiry_unconsumed) {
    job_behind_another_expires_once_no_worker_consumes(backend::postgres);
}
BOOST_AUTO_TEST_CASE(crash_after_cancel_commit) {
    crash_between_cancel_commit_and_delivery(backend::postgres);
}
BOOST_AUTO_TEST_CASE(stuck_job) {
    stuck_job_seen_and_requeued(backend::postgres);
}
BOOST_AUTO_TEST_SUITE_END()

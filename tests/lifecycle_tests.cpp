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

using namespace jobsd::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string key_a = "key-a-5d1c8e7f2b9a4c6e";
const std::string key_b = "key-b-9e4a2f6c1d7b3e8a";
const std::string project_a = "468ea7a0-66e1-4357-a760-236e54167f3e";
const std::vector<std::string> all_types = {"ai_talking_video",   "video", "tts", "image", "photo_qc", "pdf",
                                            "ai_image_generation"};
const std::string type = "pdf";  // every case uses this type

enum class backend { sqlite, postgres };

bool process_alive(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

// One jobsd with names of its own on the shared test broker, its store (a SQLite file or a
// fresh PostgreSQL schema), and the workers a case starts. The sweep runs every 100 ms and
// retries wait 200 ms, so lifecycle steps happen within a test's patience.
struct world {
    backend kind;
    temp_dir dir{"jobsd-lifecycle"};
    std::optional<pg_test_schema> pg;
    std::string url = required_env("JOBSD_TEST_AMQP_URL");
    std::string prefix;
    std::vector<std::pair<std::string, std::string>> env;
    std::unique_ptr<jobsd_process> server;
    std::vector<std::unique_ptr<child_process>> workers;
    int worker_count = 0;

    explicit world(backend b, const std::vector<std::pair<std::string, std::string>>& extra = {}) : kind(b) {
        static std::atomic<int> n{0};
        prefix = "lc" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".";
        if (kind == backend::postgres) pg.emplace();
        env = {
            {"JOBSD_AMQP_ENABLED", "true"},
            {"JOBSD_AMQP_URLS", url},
            {"JOBSD_AMQP_EXCHANGE", prefix + "jobs"},
            {"JOBSD_AMQP_QUEUE_PREFIX", prefix + "jobs."},
            {"JOBSD_AMQP_DEAD_EXCHANGE", prefix + "jobs.dead"},
            {"JOBSD_AMQP_DEAD_QUEUE_PREFIX", prefix + "jobs.dead."},
            {"JOBSD_AMQP_EVENTS_EXCHANGE", prefix + "jobs.events"},
            {"JOBSD_AMQP_EVENTS_QUEUE", prefix + "jobsd.events"},
            {"JOBSD_AMQP_CONTROL_EXCHANGE", prefix + "jobs.control"},
            {"JOBSD_AMQP_CONTROL_QUEUE_PREFIX", prefix + "jobs.control."},
            {"JOBSD_AMQP_DELIVERY_LIMIT", "3"},
            {"JOBSD_AMQP_RELAY_INTERVAL_MS", "1000"},  // jobsctl job requeue is picked up soon
            {"JOBSD_LIFECYCLE_SWEEP_INTERVAL_MS", "100"},
            {"JOBSD_LIFECYCLE_RETRY_BACKOFF_MS", "200"},
            {"JOBSD_LIFECYCLE_RETRY_BACKOFF_MAX_MS", "1000"},
            {"JOBSD_LIFECYCLE_STUCK_REFRESH_MS", "100"},
        };
        env.insert(env.end(), extra.begin(), extra.end());
        start_server();
    }

    ~world() {
        for (auto& w : workers) w.reset();
        server.reset();
        try {  // best effort: leave the shared broker as we found it
            amqp_client admin(url);
            for (const auto& t : all_types)
                for (auto q : {"jobs.", "jobs.dead.", "jobs.control."}) admin.delete_queue(prefix + q + t);
            admin.delete_queue(prefix + "jobsd.events");
            for (auto x : {"jobs", "jobs.dead", "jobs.events", "jobs.control"})
                admin.delete_exchange(prefix + x);
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("cleanup: " << e.what());
        }
    }

    std::string store_url() const {
        return kind == backend::sqlite ? "sqlite:" + (dir.path() / "jobs.db").string() : pg->url();
    }

    // (Re)starts jobsd on the same store.
    void start_server() {
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        const std::string data = required_env("JOBSD_TEST_DATA");
        server = std::make_unique<jobsd_process>(
            required_env("JOBSD_BIN"),
            std::vector<std::string>{"--config", data + "/jobsd_test.json", "--store", store_url(), "--seed",
                                     data + "/seed_test.json"},
            dir.path());
        for (const auto& [k, v] : env) ::unsetenv(k.c_str());
    }

    child_process& start_worker(std::vector<std::string> extra) {
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
                                         "--control-exchange",
                                         prefix + "jobs.control",
                                         "--control-queue-prefix",
                                         prefix + "jobs.control.",
                                         "--delivery-limit",
                                         "3",
                                         "--concurrency",
                                         "1"};
        args.insert(args.end(), extra.begin(), extra.end());
        workers.push_back(std::make_unique<child_process>(
            required_env("JOBS_WORKER_BIN"), args,
            dir.path() / ("worker-" + std::to_string(worker_count++) + ".log")));
        return *workers.back();
    }

    // An exec worker whose command first writes the job to ran-<pid>.json and its pid to
    // pid-<pid>, then runs `rest`.
    child_process& start_exec_worker(const std::string& rest, std::vector<std::string> extra = {}) {
        const std::string d = dir.path().string();
        std::vector<std::string> args = {"--handler", "exec", "--command",
                                         "cat > " + d + "/ran-$$.json; echo $$ > " + d + "/pid-$$; " + rest};
        args.insert(args.end(), extra.begin(), extra.end());
        return start_worker(args);
    }

    // The uuids of the jobs the exec command has been given so far.
    std::vector<std::string> ran() const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
            if (e.path().filename().string().rfind("ran-", 0) != 0) continue;
            const auto text = read_text(e.path());
            if (text.empty()) continue;
            try {
                out.emplace_back(json::parse(text).at("uuid").as_string());
            } catch (const std::exception&) {  // still being written
            }
        }
        return out;
    }

    // The pid of the command started for the job (0 while there is none).
    pid_t command_pid() const {
        for (const auto& e : std::filesystem::directory_iterator(dir.path()))
            if (e.path().filename().string().rfind("pid-", 0) == 0)
                return std::atoi(read_text(e.path()).c_str());
        return 0;
    }

    http_client client() { return http_client(server->host(), server->port()); }

    std::string post(http_client& c, json::object extra = {}, const std::string& session = "s-life") {
        json::object body{{"job_type", type},
                          {"session_id", session},
                          {"version", 2},
                          {"template_id", project_a},
                          {"values", json::object{{"headline", "hello"}}}};
        for (const auto& m : extra) body[m.key()] = m.value();
        auto res = c.post("/jobs/v2", key_a, json::serialize(body));
        BOOST_REQUIRE_MESSAGE(res.status == 201, "POST got " << res.status << " " << res.body);
        return std::string(res.json().at("job").at("uuid").as_string());
    }

    json::object job(http_client& c, const std::string& uuid) {
        auto res = c.get("/jobs/" + uuid, key_a);
        BOOST_REQUIRE_MESSAGE(res.status == 200, "GET got " << res.status << " " << res.body);
        return res.json().as_object();
    }

    // Polls GET /jobs/:id until the status is `want` (or terminal and not `want`: a failure).
    json::object wait_status(http_client& c, const std::string& uuid, const std::string& want,
                             std::chrono::seconds timeout = 60s) {
        json::object last;
        const bool ok = wait_until(
            [&] {
                last = job(c, uuid);
                return last.at("job_status").as_string() == want;
            },
            timeout);
        BOOST_REQUIRE_MESSAGE(ok, "job " << uuid << " never " << want << "; last: " << json::serialize(last)
                                         << "\nworkers:\n"
                                         << worker_logs() << "\njobsd:\n"
                                         << server->stderr_text().substr(0, 6000));
        return last;
    }

    std::string worker_logs() {
        std::string out;
        for (auto& w : workers) out += w->log().substr(0, 4000) + "\n---\n";
        return out;
    }
};

http_response post_action(http_client& c, const std::string& uuid, const std::string& action,
                          const std::string& key = key_a, const std::string& body = "") {
    return c.post("/jobs/" + uuid + "/" + action, key, body);
}

std::string status_in(const http_response& r) {
    const auto v = r.json();
    if (const auto* job = v.as_object().if_contains("job"))
        return std::string(job->at("job_status").as_string());
    return std::string(v.at("job_status").as_string());
}

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
BOOST_AUTO_TEST_CASE(crash_after_cancel_commit) {
    crash_between_cancel_commit_and_delivery(backend::postgres);
}
BOOST_AUTO_TEST_CASE(stuck_job) {
    stuck_job_seen_and_requeued(backend::postgres);
}
BOOST_AUTO_TEST_SUITE_END()

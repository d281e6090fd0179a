// Webhooks end to end: jobsd, the real test broker, real jobs-worker processes and real receivers
// started here (a C++ one, tests/support/webhook_receiver, and a Python one that checks signatures
// with its own hmac code, tests/webhook_receiver.py). Every terminal event arrives signed; retries
// keep one webhook-id; SIGKILL with deliveries due loses none (SQLite and PostgreSQL); private
// addresses are refused unless allowed; a receiver that never answers holds one slot; rotation;
// a cancelled and an expired job deliver their events (SQLite and PostgreSQL).
#define BOOST_TEST_MODULE webhooks
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/test_certificate.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace jobsd::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string key_a = "key-a-5d1c8e7f2b9a4c6e";
const std::string operator_key = "op-key-8f2c4a6e1b9d7c3e";  // tests/data/seed_test.json
const std::string project_a = "468ea7a0-66e1-4357-a760-236e54167f3e";

// Quick retries and polls, loopback allowed: what most cases run with.
env_list fast_settings() {
    return {{"JOBSD_WEBHOOKS_ALLOW", "127.0.0.0/8"},
            {"JOBSD_WEBHOOKS_POLL_INTERVAL_MS", "100"},
            {"JOBSD_WEBHOOKS_RETRY_SCHEDULE_MS", "200,200,200,200,200"},
            {"JOBSD_WEBHOOKS_RETRY_JITTER", "0"}};
}

// jobsd with its own names on the shared test broker, a store, and the workers a case starts.
struct hooks_env {
    temp_dir dir{"jobsd-webhooks"};
    topology_names names{"wh", control_names::own};
    std::string store_url;
    env_list settings;
    std::unique_ptr<jobsd_process> server;
    std::vector<std::unique_ptr<child_process>> workers;

    explicit hooks_env(env_list s = fast_settings(), std::string store = {})
        : store_url(store.empty() ? "sqlite:" + (dir.path() / "jobs.db").string() : std::move(store)),
          settings(std::move(s)) {
        start();
    }

    ~hooks_env() {
        workers.clear();
        server.reset();
        delete_topology(names);  // leave the shared broker as we found it
    }

    void start(const env_list& extra = {}) {
        jobsd_options o;
        o.store_url = store_url;
        o.env = publishing_env(
            names,
            {// Every type (jobsd refuses to start with one missing); workers serve two.
             {"JOBSD_AMQP_JOB_TYPES", "ai_talking_video,video,tts,image,photo_qc,pdf,ai_image_generation"},
             {"JOBSD_STORE_INSTANCE_ID", "hooks-1"},
             {"JOBSD_LOG_LEVEL", "debug"}});
        o.env.insert(o.env.end(), settings.begin(), settings.end());
        o.env.insert(o.env.end(), extra.begin(), extra.end());
        server = start_jobsd(dir, o);
    }

    child_process& start_worker(const std::string& type, std::vector<std::string> handler) {
        std::vector<std::string> args = worker_args(names, type);
        args.insert(args.end(), handler.begin(), handler.end());
        workers.push_back(std::make_unique<child_process>(
            required_env("JOBS_WORKER_BIN"), args,
            dir.path() / ("worker-" + type + "-" + std::to_string(workers.size()) + ".log")));
        return *workers.back();
    }
    void succeeding_workers() {
        start_worker("video", {"--handler", "simulate", "--duration-ms", "50", "--steps", "1"});
    }
    void failing_workers() {
        start_worker("pdf", {"--handler", "exec", "--command", "echo broke >&2; exit 3"});
    }

    http_client client() { return http_client(server->host(), server->port()); }

    std::string post_job(http_client& c, const std::string& type, json::object extra = {}) {
        json::object body{{"job_type", type}, {"template_id", project_a}, {"session_id", "s"}};
        for (auto& [k, v] : extra) body[k] = v;
        auto res = c.post("/jobs/v2", key_a, json::serialize(body));
        BOOST_REQUIRE_MESSAGE(res.status == 201, "POST " << type << ": " << res.status << " " << res.body);
        return std::string(res.json().at("job").at("uuid").as_string());
    }

    // Adds an endpoint; returns its id and secret.
    std::pair<std::string, std::string> add_endpoint(http_client& c, const std::string& url,
                                                     std::vector<std::string> events = {}) {
        json::object body{{"url", url}};
        if (!events.empty()) {
            json::array a;
            for (auto& e : events) a.emplace_back(e);
            body["events"] = std::move(a);
        }
        auto res = c.post("/api/webhooks", key_a, json::serialize(body));
        BOOST_REQUIRE_MESSAGE(res.status == 201, "POST /api/webhooks: " << res.status << " " << res.body);
        const auto doc = res.json();
        return {std::string(doc.at("id").as_string()), std::string(doc.at("secret").as_string())};
    }

    json::array deliveries(http_client& c, const std::string& endpoint) {
        auto res = c.get("/api/webhooks/" + endpoint + "/deliveries?limit=100", key_a);
        BOOST_REQUIRE_MESSAGE(res.status == 200, "deliveries: " << res.status << " " << res.body);
        return res.json().at("data").as_array();
    }

    std::string logs() {
        std::string out = "jobsd:\n" + server->stderr_text().substr(0, 20000);
        for (auto& w : workers) out += "\n---\n" + w->log().substr(0, 2000);
        return out;
    }
};

json::object body_of(const received_webhook& w) {
    return json::parse(w.body).as_object();
}

std::string job_of(const received_webhook& w) {
    return std::string(body_of(w).at("data").at("uuid").as_string());
}

// Polls `done` every 100 ms until it holds or `timeout` passes.
template <class F>
bool eventually(F&& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return done();
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_terminal_event_arrives_signed) {
    hooks_env t;
    webhook_receiver receiver;
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url());  // default events: the terminal ones
    auto res = c.get("/api/webhooks/default/secret", key_a);
    BOOST_REQUIRE_EQUAL(res.status, 200);
    const std::string default_secret(res.json().at("secret").as_string());
    BOOST_TEST(default_secret.starts_with("whsec_"));
    t.succeeding_workers();
    t.failing_workers();
    std::map<std::string, std::string> expected;  // job → its terminal event
    for (int i = 0; i < 3; ++i) expected[t.post_job(c, "video")] = "job.succeeded";
    expected[t.post_job(c, "pdf")] = "job.failed";
    const auto own = t.post_job(c, "video", {{"webhook", receiver.url() + "?job=own"}});
    expected[own] = "job.succeeded";

    const auto got = receiver.wait_for(6, 90s);
    BOOST_REQUIRE_MESSAGE(got.size() >= 6u, "received " << got.size() << " of 6\n" << t.logs());
    std::this_thread::sleep_for(500ms);  // nothing more should come (no job.started by default)
    const auto all = receiver.received();
    BOOST_TEST(all.size() == 6u);
    std::set<std::string> ids;
    std::size_t own_seen = 0;
    for (const auto& w : all) {
        const auto body = body_of(w);
        const auto uuid = job_of(w);
        BOOST_TEST_CONTEXT(uuid << " " << w.target) {
            BOOST_TEST(w.content_type == "application/json");
            BOOST_TEST(w.id.starts_with("msg_"));
            BOOST_TEST(std::abs(std::stoll(w.timestamp) - std::time(nullptr)) < 120);
            BOOST_REQUIRE(expected.contains(uuid));
            BOOST_TEST(body.at("type").as_string() == expected[uuid]);
            BOOST_TEST(body.at("timestamp").as_string().size() == 24u);  // ISO-8601, milliseconds, Z
            BOOST_TEST(body.at("data").at("job_status").as_string() ==
                       (expected[uuid] == "job.failed" ? "FAILED" : "SUCCESS"));
            // The call back continues the job's trace (issue 18): its trace id, a span of its own.
            const std::string trace_id(body.at("data").at("trace_id").as_string());
            BOOST_TEST(trace_id.size() == 32u);
            BOOST_TEST(w.traceparent.size() == 55u);
            BOOST_TEST(w.traceparent.starts_with("00-" + trace_id + "-"));
            const bool is_own = w.target == "/hooks?job=own";
            if (is_own) BOOST_TEST(uuid == own);
            own_seen += uuid == own;
            // The endpoint's deliveries are signed with its secret, a job's own with the default one.
            BOOST_TEST(verify_signature(is_own ? default_secret : secret, w));
            BOOST_TEST(!verify_signature(is_own ? secret : default_secret, w));
        }
        ids.insert(w.id);
    }
    BOOST_TEST(own_seen == 2u);            // the endpoint's copy and the job's own URL's
    BOOST_TEST(ids.size() == all.size());  // one webhook-id per delivery
    const auto log = t.server->stderr_text();
    BOOST_TEST(log.find(secret) == std::string::npos, "the endpoint secret reached the log");
    BOOST_TEST(log.find(default_secret) == std::string::npos, "the default secret reached the log");
}

// A batch's jobs name their own webhooks as single creates do; a job without one gets nothing.
BOOST_AUTO_TEST_CASE(batch_jobs_deliver_to_their_own_webhooks) {
    hooks_env t;
    webhook_receiver receiver;
    auto c = t.client();
    auto secret_res = c.get("/api/webhooks/default/secret", key_a);
    BOOST_REQUIRE_EQUAL(secret_res.status, 200);
    const std::string secret(secret_res.json().at("secret").as_string());
    t.succeeding_workers();
    json::array jobs;
    for (const char* hook : {"?n=1", "", "?n=3"}) {
        json::object job{{"job_type", "video"}, {"template_id", project_a}, {"session_id", "s"}};
        if (*hook) job["webhook"] = receiver.url() + hook;
        jobs.push_back(std::move(job));
    }
    auto res = c.post("/jobs/v2/batch", key_a, json::serialize(json::object{{"jobs", jobs}}));
    BOOST_REQUIRE_MESSAGE(res.status == 201, res.status << " " << res.body);
    const auto created = res.json();  // kept alive while its array is read
    std::vector<std::string> uuids;
    for (const auto& j : created.at("jobs").as_array()) uuids.emplace_back(j.at("uuid").as_string());
    BOOST_REQUIRE_EQUAL(uuids.size(), 3u);

    const auto got = receiver.wait_for(2, 90s);
    BOOST_REQUIRE_MESSAGE(got.size() >= 2u, "received " << got.size() << " of 2\n" << t.logs());
    // The hook-less job ends too before anything more could come for it.
    BOOST_REQUIRE(eventually(
        [&] {
            auto r = c.get("/jobs/" + uuids[1], key_a);
            return r.status == 200 && r.json().at("job_status").as_string() == "SUCCESS";
        },
        60s));
    std::this_thread::sleep_for(1s);
    std::map<std::string, std::string> by_target;
    for (const auto& w : receiver.received()) {
        by_target[w.target] = job_of(w);
        BOOST_TEST(verify_signature(secret, w));
        BOOST_TEST(body_of(w).at("type").as_string() == "job.succeeded");
    }
    const std::map<std::string, std::string> want = {{"/hooks?n=1", uuids[0]}, {"/hooks?n=3", uuids[2]}};
    BOOST_TEST(by_target == want);
    BOOST_TEST(receiver.received().size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_python_receiver_verifies_every_event_and_both_secrets_of_a_rotation) {
    hooks_env t(
        env_list{{"JOBSD_WEBHOOKS_ALLOW", "127.0.0.0/8"}, {"JOBSD_WEBHOOKS_POLL_INTERVAL_MS", "100"}});
    const auto port_file = t.dir.path() / "py.port", secret_file = t.dir.path() / "py.secret",
               log = t.dir.path() / "py.log";
    child_process py("/usr/bin/python3",
                     {required_env("JOBSD_WEBHOOK_RECEIVER_PY"), "--port-file", port_file.string(),
                      "--secret-file", secret_file.string(), "--log", log.string()},
                     t.dir.path() / "py.stderr");
    BOOST_REQUIRE_MESSAGE(eventually([&] { return std::filesystem::exists(port_file); }, 20s),
                          "the Python receiver did not start: " << py.log());
    std::ifstream pf(port_file);
    std::string port;
    pf >> port;
    auto c = t.client();
    const auto [endpoint, secret] =
        t.add_endpoint(c, "http://127.0.0.1:" + port + "/", {"job.started", "job.succeeded", "job.failed"});
    std::ofstream(secret_file) << secret;
    t.succeeding_workers();
    t.failing_workers();
    const auto a = t.post_job(c, "video"), b = t.post_job(c, "video"), f = t.post_job(c, "pdf");
    auto lines = [&] {
        std::vector<json::object> out;
        std::ifstream in(log);
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) out.push_back(json::parse(line).as_object());
        return out;
    };
    BOOST_REQUIRE_MESSAGE(eventually([&] { return lines().size() >= 6; }, 90s),
                          "the Python receiver logged " << lines().size() << " of 6\n"
                                                        << t.logs());
    std::multiset<std::string> events;
    for (const auto& l : lines()) {
        BOOST_TEST(l.at("valid").as_bool(), "invalid: " << json::serialize(l));
        events.insert(std::string(l.at("type").as_string()) + " " + std::string(l.at("uuid").as_string()));
    }
    const std::multiset<std::string> want = {"job.started " + a,   "job.succeeded " + a, "job.started " + b,
                                             "job.succeeded " + b, "job.started " + f,   "job.failed " + f};
    BOOST_TEST(events == want);

    // Rotation: the next deliveries carry both signatures; the receiver accepts them with either.
    auto res = c.post("/api/webhooks/" + endpoint + "/rotate-secret", key_a, "", "");
    BOOST_REQUIRE_EQUAL(res.status, 200);
    const std::string rotated(res.json().at("secret").as_string());
    BOOST_TEST(rotated != secret);
    const auto old_check = t.post_job(c, "video");  // verified with the old secret (still in the file)
    BOOST_REQUIRE(eventually([&] { return lines().size() >= 8; }, 60s));
    std::ofstream(secret_file) << rotated;
    const auto new_check = t.post_job(c, "video");  // verified with the new one
    BOOST_REQUIRE(eventually([&] { return lines().size() >= 10; }, 60s));
    for (const auto& l : lines()) {
        const std::string uuid(l.at("uuid").as_string());
        if (uuid != old_check && uuid != new_check) continue;
        BOOST_TEST(l.at("valid").as_bool(), "invalid: " << json::serialize(l));
        BOOST_TEST(l.at("signatures").as_int64() == 2);
    }
}

BOOST_AUTO_TEST_CASE(a_receiver_failing_three_times_gets_one_delivery_after_four_attempts) {
    hooks_env t;
    webhook_receiver receiver(
        [](const received_webhook&, std::size_t i) { return std::optional<int>(i < 3 ? 500 : 200); });
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url(), {"job.succeeded"});
    t.succeeding_workers();
    const auto uuid = t.post_job(c, "video");
    const auto got = receiver.wait_for(4, 60s);
    BOOST_REQUIRE_MESSAGE(got.size() >= 4u, "received " << got.size() << "\n" << t.logs());
    std::this_thread::sleep_for(1s);  // a fifth attempt would come within the 200 ms schedule
    const auto all = receiver.received();
    BOOST_TEST(all.size() == 4u);
    for (const auto& w : all) {
        BOOST_TEST(w.id == all.front().id);  // one webhook-id across retries
        BOOST_TEST(job_of(w) == uuid);
        BOOST_TEST(verify_signature(secret, w));
    }
    BOOST_REQUIRE(eventually(
        [&] {
            auto d = t.deliveries(c, endpoint);
            return d.size() == 1 && d[0].at("status").as_string() == "delivered";
        },
        10s));
    const auto d = t.deliveries(c, endpoint).at(0).as_object();
    BOOST_TEST(d.at("id").as_string() == all.front().id);
    BOOST_TEST(d.at("attempt_count").as_int64() == 4);
    std::vector<std::int64_t> codes;
    for (const auto& a : d.at("attempts").as_array()) {
        codes.push_back(a.at("status_code").as_int64());
        BOOST_TEST(a.at("latency_ms").as_int64() >= 0);
    }
    BOOST_TEST((codes == std::vector<std::int64_t>{500, 500, 500, 200}));

    // The same four attempts on the dashboard's webhooks panel, and in /metrics.
    auto dash = c.get("/api/dashboard", operator_key);
    BOOST_REQUIRE_EQUAL(dash.status, 200);
    const auto hooks = dash.json().at("webhooks").as_object();
    BOOST_TEST(hooks.at("pending").as_int64() == 0);
    std::vector<std::int64_t> shown;
    for (const auto& a : hooks.at("recent_attempts").as_array())
        if (a.at("delivery_id").as_string() == all.front().id)
            shown.push_back(a.at("status_code").as_int64());
    std::sort(shown.begin(), shown.end());
    BOOST_TEST((shown == std::vector<std::int64_t>{200, 500, 500, 500}));
    const auto metrics = c.get("/metrics").body;
    BOOST_TEST(metrics.find("jobsd_webhook_attempts_total{outcome=\"delivered\"} 1\n") != std::string::npos,
               metrics);
    BOOST_TEST(metrics.find("jobsd_webhook_attempts_total{outcome=\"retried\"} 3\n") != std::string::npos);
}

// Deliveries due (the receiver answered 503) when jobsd is killed; after a restart on the same
// store every job's delivery arrives, and all attempts for one job share its webhook-id.
void sigkill_with_deliveries_due(hooks_env& t) {
    webhook_receiver receiver(webhook_receiver::always(503));
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url(), {"job.succeeded"});
    t.succeeding_workers();
    std::set<std::string> jobs;
    for (int i = 0; i < 6; ++i) jobs.insert(t.post_job(c, "video"));
    auto seen_jobs = [&](const std::vector<received_webhook>& got) {
        std::set<std::string> s;
        for (const auto& w : got) s.insert(job_of(w));
        return s;
    };
    BOOST_REQUIRE_MESSAGE(eventually([&] { return seen_jobs(receiver.received()) == jobs; }, 90s),
                          "not every job's first attempt came\n"
                              << t.logs());
    t.server->kill9();
    const auto before = receiver.received().size();
    receiver.set_responder(webhook_receiver::always(204));
    t.start();
    const auto phase2 = [&] {
        auto all = receiver.received();
        return std::vector<received_webhook>(all.begin() + static_cast<long>(before), all.end());
    };
    BOOST_REQUIRE_MESSAGE(eventually([&] { return seen_jobs(phase2()) == jobs; }, 90s),
                          "after the restart " << seen_jobs(phase2()).size() << " of 6 jobs were delivered\n"
                                               << t.logs());
    std::map<std::string, std::set<std::string>> ids;  // job → webhook-ids seen
    for (const auto& w : receiver.received()) {
        ids[job_of(w)].insert(w.id);
        BOOST_TEST(verify_signature(secret, w));
    }
    for (const auto& [job, set] : ids)
        BOOST_TEST(set.size() == 1u, job << " came with " << set.size() << " ids");
    auto restarted = t.client();  // the new process listens on a port of its own
    BOOST_REQUIRE(eventually(
        [&] {
            std::size_t delivered = 0;
            for (const auto& d : t.deliveries(restarted, endpoint))
                delivered += d.at("status").as_string() == "delivered";
            return delivered == jobs.size();
        },
        20s));
}

env_list kill_settings() {
    auto s = fast_settings();
    s.push_back(
        {"JOBSD_WEBHOOKS_RETRY_SCHEDULE_MS", "500,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000,1000"});
    return s;
}

BOOST_AUTO_TEST_CASE(sigkill_with_deliveries_due_loses_none_on_sqlite) {
    hooks_env t(kill_settings());
    sigkill_with_deliveries_due(t);
}

BOOST_AUTO_TEST_CASE(sigkill_with_deliveries_due_loses_none_on_postgres) {
    pg_test_schema schema;
    hooks_env t(kill_settings(), schema.url());
    sigkill_with_deliveries_due(t);
}

// A job cancelled while QUEUED (POST /jobs/:id/cancel) and one whose time to live runs out before
// it leaves the outbox (the lifecycle sweep) each deliver their event, signed, with the job as
// GET /jobs/:id shows it. Publishing is off, so the jobs stay in the outbox: the store's cancel
// and sweep, which record the deliveries in the transaction that ends the job, are under test.
void cancelled_and_expired_jobs_deliver_their_events(hooks_env& t) {
    webhook_receiver receiver;
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url());  // default events: the terminal ones
    const auto expiring = t.post_job(c, "video", {{"expires_in_s", 1}, {"priority", "high"}});
    const auto cancelled = t.post_job(c, "video");
    auto res = c.post("/jobs/" + cancelled + "/cancel", key_a, "");
    BOOST_REQUIRE_MESSAGE(res.status == 200, "cancel: " << res.status << " " << res.body);

    const auto got = receiver.wait_for(2, 60s);
    std::string events;  // what came, so a failure names the event that did not
    for (const auto& w : got) events += " " + std::string(body_of(w).at("type").as_string());
    BOOST_REQUIRE_MESSAGE(got.size() >= 2u, "received " << got.size()
                                                        << " of 2 (job.expired and job.cancelled):" << events
                                                        << "\n"
                                                        << t.logs());
    std::this_thread::sleep_for(500ms);  // nothing more should come
    const auto all = receiver.received();
    BOOST_TEST(all.size() == 2u);
    std::map<std::string, std::string> seen;  // job → its event
    for (const auto& w : all) {
        const auto body = body_of(w);
        const auto uuid = job_of(w);
        seen[uuid] = std::string(body.at("type").as_string());
        BOOST_TEST_CONTEXT(uuid) {
            BOOST_TEST(verify_signature(secret, w));
            auto job = c.get("/jobs/" + uuid, key_a);
            BOOST_REQUIRE_EQUAL(job.status, 200);
            BOOST_TEST(json::serialize(body.at("data")) == json::serialize(job.json()));
        }
    }
    const std::map<std::string, std::string> want = {{cancelled, "job.cancelled"}, {expiring, "job.expired"}};
    BOOST_TEST(seen == want);
    for (const auto& w : all)
        if (job_of(w) == expiring) {
            BOOST_TEST(body_of(w).at("data").at("job_status").as_string() == "EXPIRED");
            BOOST_TEST(body_of(w).at("data").at("priority").as_int64() == 5);  // "high"
        } else {
            BOOST_TEST(body_of(w).at("data").at("job_status").as_string() == "CANCELLED");
        }
    BOOST_REQUIRE(eventually(
        [&] {
            std::size_t delivered = 0;
            for (const auto& d : t.deliveries(c, endpoint))
                delivered += d.at("status").as_string() == "delivered";
            return delivered == 2u;
        },
        20s));
}

env_list no_publishing_settings() {
    auto s = fast_settings();
    s.push_back({"JOBSD_AMQP_ENABLED", "false"});
    s.push_back({"JOBSD_LIFECYCLE_SWEEP_INTERVAL_MS", "200"});
    return s;
}

BOOST_AUTO_TEST_CASE(cancelled_and_expired_jobs_deliver_their_events_on_sqlite) {
    hooks_env t(no_publishing_settings());
    cancelled_and_expired_jobs_deliver_their_events(t);
}

BOOST_AUTO_TEST_CASE(cancelled_and_expired_jobs_deliver_their_events_on_postgres) {
    pg_test_schema schema;
    hooks_env t(no_publishing_settings(), schema.url());
    cancelled_and_expired_jobs_deliver_their_events(t);
}

// A graceful stop (SIGTERM, not a crash) lets the attempts in flight end and records them, and
// starts no more: after the restart every delivery arrives, and none twice.
BOOST_AUTO_TEST_CASE(a_graceful_stop_sends_no_delivery_twice) {
    hooks_env t(no_publishing_settings());
    std::atomic<bool> answer{false};  // the receiver holds every answer until then
    webhook_receiver receiver([&](const received_webhook&, std::size_t) {
        for (int i = 0; i < 3000 && !answer; ++i) std::this_thread::sleep_for(10ms);
        return std::optional<int>(204);
    });
    auto c = t.client();
    t.add_endpoint(c, receiver.url(), {"job.cancelled"});
    constexpr std::size_t jobs = 20;  // more than the 8 a destination has in flight
    for (std::size_t i = 0; i < jobs; ++i) {
        const auto uuid = t.post_job(c, "video");
        auto res = c.post("/jobs/" + uuid + "/cancel", key_a, "");
        BOOST_REQUIRE_MESSAGE(res.status == 200, "cancel: " << res.status << " " << res.body);
    }
    // The destination's eight slots are taken, the other twelve wait behind them.
    BOOST_REQUIRE_MESSAGE(receiver.wait_for(8, 30s).size() == 8u, t.logs());
    BOOST_REQUIRE_EQUAL(::kill(t.server->pid(), SIGTERM), 0);
    std::this_thread::sleep_for(1s);  // the drain has begun: no attempt may start from here
    answer = true;                    // those in flight end within the grace
    BOOST_TEST(!t.server->wait_exit(30s).forced);
    BOOST_TEST(receiver.received().size() == 8u);
    t.start();

    const auto distinct = [&] {
        std::set<std::string> ids;
        for (const auto& w : receiver.received()) ids.insert(w.id);
        return ids.size();
    };
    BOOST_REQUIRE_MESSAGE(eventually([&] { return distinct() == jobs; }, 60s), t.logs());
    std::this_thread::sleep_for(1s);  // a repeat would come within the 200 ms schedule
    std::map<std::string, int> times;
    for (const auto& w : receiver.received()) ++times[w.id];
    for (const auto& [id, n] : times) BOOST_TEST(n == 1, id << " came " << n << " times");
}

// An interim answer (103 Early Hints) is not the answer: the attempt counts the final 204, and
// the connection kept for the next delivery does not start with an answer already read.
BOOST_AUTO_TEST_CASE(an_interim_answer_is_followed_by_the_final_one) {
    hooks_env t(no_publishing_settings());
    webhook_receiver receiver;
    receiver.set_interim(103);
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url(), {"job.cancelled"});
    for (int i = 0; i < 3; ++i) {  // one after another, each on the connection the last one kept
        const auto uuid = t.post_job(c, "video");
        auto res = c.post("/jobs/" + uuid + "/cancel", key_a, "");
        BOOST_REQUIRE_MESSAGE(res.status == 200, "cancel: " << res.status << " " << res.body);
        BOOST_REQUIRE_MESSAGE(
            receiver.wait_for(static_cast<std::size_t>(i + 1), 30s).size() == static_cast<std::size_t>(i + 1),
            t.logs());
        BOOST_REQUIRE(eventually(
            [&] {
                std::size_t delivered = 0;
                for (const auto& d : t.deliveries(c, endpoint))
                    delivered += d.at("status").as_string() == "delivered";
                return delivered == static_cast<std::size_t>(i + 1);
            },
            20s));
    }
    std::this_thread::sleep_for(500ms);  // a second attempt would come within the 200 ms schedule
    BOOST_TEST(receiver.received().size() == 3u);
    BOOST_TEST(receiver.connections() == 1u);
    for (const auto& d : t.deliveries(c, endpoint)) {
        BOOST_TEST(d.at("attempt_count").as_int64() == 1);
        BOOST_TEST(d.at("attempts").at(0).at("status_code").as_int64() == 204);
    }
}

BOOST_AUTO_TEST_CASE(a_private_address_is_refused_unless_allowed) {
    webhook_receiver receiver;
    env_list closed = {{"JOBSD_WEBHOOKS_POLL_INTERVAL_MS", "100"},
                       {"JOBSD_WEBHOOKS_RETRY_SCHEDULE_MS", "100"},
                       {"JOBSD_WEBHOOKS_RETRY_JITTER", "0"}};
    hooks_env t(closed);
    auto c = t.client();
    // "localhost" is a name: it is refused for the address it resolves to.
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url("localhost"), {"job.succeeded"});
    t.succeeding_workers();
    t.post_job(c, "video");
    BOOST_REQUIRE_MESSAGE(eventually(
                              [&] {
                                  auto d = t.deliveries(c, endpoint);
                                  return d.size() == 1 && d[0].at("status").as_string() == "failed";
                              },
                              60s),
                          t.logs());
    const auto d = t.deliveries(c, endpoint).at(0).as_object();
    for (const auto& a : d.at("attempts").as_array()) {
        BOOST_TEST(a.at("status_code").is_null());
        const std::string error(a.at("error").as_string());
        BOOST_TEST(error.find("refused") != std::string::npos, error);
        BOOST_TEST(error.find("loopback") != std::string::npos, error);
    }
    BOOST_TEST(receiver.connections() == 0u);  // never even connected
    // Allowed by name: the same delivery, redelivered, arrives.
    t.server->stop();
    t.start({{"JOBSD_WEBHOOKS_ALLOW", "localhost"}});
    auto c2 = t.client();
    const std::string id(d.at("id").as_string());
    auto res = c2.post("/api/webhooks/deliveries/" + id + "/redeliver", key_a, "", "");
    BOOST_REQUIRE_EQUAL(res.status, 202);
    const auto got = receiver.wait_for(1, 30s);
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_TEST(got[0].id == id);
    BOOST_TEST(verify_signature(secret, got[0]));
}

BOOST_AUTO_TEST_CASE(a_receiver_that_never_answers_holds_one_slot_until_its_timeout) {
    auto settings = fast_settings();
    settings.push_back({"JOBSD_WEBHOOKS_PER_ENDPOINT", "1"});
    settings.push_back({"JOBSD_WEBHOOKS_ANSWER_TIMEOUT_MS", "20000"});
    hooks_env t(settings);
    webhook_receiver silent([](const received_webhook&, std::size_t) { return std::optional<int>(); });
    webhook_receiver good;
    auto c = t.client();
    const auto [stuck, stuck_secret] = t.add_endpoint(c, silent.url(), {"job.succeeded"});
    t.add_endpoint(c, good.url(), {"job.succeeded"});
    t.succeeding_workers();
    for (int i = 0; i < 5; ++i) t.post_job(c, "video");
    const auto got = good.wait_for(5, 60s);
    BOOST_REQUIRE_MESSAGE(got.size() == 5u, "the answering receiver got " << got.size() << " of 5\n"
                                                                          << t.logs());
    // Meanwhile the silent receiver holds exactly one connection: its first attempt's.
    BOOST_TEST(silent.received().size() == 1u);
    BOOST_TEST(silent.max_open_connections() == 1u);
    // Once the answer timeout passes, the attempt is recorded as such and the next one starts.
    BOOST_REQUIRE_MESSAGE(eventually(
                              [&] {
                                  for (const auto& d : t.deliveries(c, stuck))
                                      for (const auto& a : d.at("attempts").as_array())
                                          if (a.at("error").is_string()) return true;
                                  return false;
                              },
                              60s),
                          t.logs());
    bool timed_out = false;
    for (const auto& d : t.deliveries(c, stuck))
        for (const auto& a : d.at("attempts").as_array())
            if (a.at("error").is_string()) {
                const std::string error(a.at("error").as_string());
                timed_out = timed_out || error.find("no answer within 20000 ms") != std::string::npos;
                BOOST_TEST(a.at("latency_ms").as_int64() >= 19000);
            }
    BOOST_TEST(timed_out);
}

// A receiver with more due deliveries than webhooks.per_endpoint is served as fast as it answers,
// not per_endpoint per poll: the deliveries are made while this jobsd sends none, then a jobsd
// whose poll interval is ten minutes and nothing else wakes (no status change after the restart)
// must deliver them all; claiming only at the poll would deliver two.
BOOST_AUTO_TEST_CASE(a_busy_receiver_is_not_held_to_per_endpoint_per_poll) {
    auto settings = fast_settings();
    settings.push_back({"JOBSD_WEBHOOKS_ENABLED", "false"});  // recorded, not sent
    hooks_env t(settings);
    webhook_receiver receiver;
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url(), {"job.succeeded"});
    t.succeeding_workers();
    constexpr std::size_t jobs = 30;
    std::set<std::string> posted;
    for (std::size_t i = 0; i < jobs; ++i) posted.insert(t.post_job(c, "video"));
    BOOST_REQUIRE_MESSAGE(eventually([&] { return t.deliveries(c, endpoint).size() == jobs; }, 120s),
                          "not every job's delivery was recorded\n"
                              << t.logs());
    BOOST_TEST(receiver.received().empty());
    t.server->stop();
    t.start({{"JOBSD_WEBHOOKS_ENABLED", "true"},
             {"JOBSD_WEBHOOKS_PER_ENDPOINT", "2"},
             {"JOBSD_WEBHOOKS_POLL_INTERVAL_MS", "600000"}});
    const auto got = receiver.wait_for(jobs, 120s);
    BOOST_REQUIRE_MESSAGE(got.size() == jobs, "the receiver got " << got.size() << " of " << jobs
                                                                  << " deliveries\n"
                                                                  << t.logs());
    std::set<std::string> delivered;
    for (const auto& w : got) {
        delivered.insert(job_of(w));
        BOOST_TEST(verify_signature(secret, w));
    }
    BOOST_TEST(delivered == posted);
}

BOOST_AUTO_TEST_CASE(a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends) {
    auto settings = fast_settings();
    settings.push_back({"JOBSD_WEBHOOKS_SECRET_OVERLAP_MS", "8000"});
    hooks_env t(settings);
    webhook_receiver receiver;
    auto c = t.client();
    const auto [endpoint, old_secret] = t.add_endpoint(c, receiver.url(), {"job.succeeded"});
    t.succeeding_workers();
    auto res = c.post("/api/webhooks/" + endpoint + "/rotate-secret", key_a, "", "");
    BOOST_REQUIRE_EQUAL(res.status, 200);
    const std::string new_secret(res.json().at("secret").as_string());
    const auto rotated_at = std::chrono::steady_clock::now();
    t.post_job(c, "video");
    auto got = receiver.wait_for(1, 60s);
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() - rotated_at < 7s,
                          "the delivery came too late to test the overlap");
    const auto both = signatures_of(got[0]);
    BOOST_TEST(both.size() == 2u);
    BOOST_TEST(verify_signature(old_secret, got[0]));
    BOOST_TEST(verify_signature(new_secret, got[0]));
    std::this_thread::sleep_for(9s - (std::chrono::steady_clock::now() - rotated_at));
    t.post_job(c, "video");
    got = receiver.wait_for(2, 60s);
    BOOST_REQUIRE_EQUAL(got.size(), 2u);
    BOOST_TEST(signatures_of(got[1]).size() == 1u);
    BOOST_TEST(verify_signature(new_secret, got[1]));
    BOOST_TEST(!verify_signature(old_secret, got[1]));
}

BOOST_AUTO_TEST_CASE(gone_disables_the_endpoint) {
    hooks_env t;
    webhook_receiver receiver(webhook_receiver::always(410));
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url(), {"job.succeeded"});
    t.succeeding_workers();
    t.post_job(c, "video");
    BOOST_REQUIRE(receiver.wait_for(1, 60s).size() == 1u);
    BOOST_REQUIRE(eventually(
        [&] {
            auto res = c.get("/api/webhooks", key_a);
            return !res.json().at("data").at(0).at("enabled").as_bool();
        },
        10s));
    t.post_job(c, "video");
    std::this_thread::sleep_for(2s);
    BOOST_TEST(receiver.received().size() == 1u);  // a disabled endpoint gets nothing more
    auto res = c.get("/api/webhooks", key_a);
    BOOST_TEST(res.json().at("data").at(0).at("disabled_reason").as_string().find("410") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(https_receivers_are_verified_against_the_trusted_authorities) {
    temp_dir certs("jobsd-webhook-certs");
    const auto cert = make_self_signed_certificate(certs.path(), "receiver");
    const auto other = make_self_signed_certificate(certs.path(), "stranger");
    webhook_receiver receiver(webhook_receiver::always(204), cert.certificate, cert.private_key);
    auto settings = fast_settings();
    settings.push_back({"JOBSD_WEBHOOKS_RETRY_SCHEDULE_MS", "100"});
    settings.push_back({"JOBSD_WEBHOOKS_CA_FILE", other.certificate.string()});  // not the receiver's issuer
    hooks_env t(settings);
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url("localhost"), {"job.succeeded"});
    t.succeeding_workers();
    t.post_job(c, "video");
    BOOST_REQUIRE_MESSAGE(eventually(
                              [&] {
                                  auto d = t.deliveries(c, endpoint);
                                  return d.size() == 1 && d[0].at("status").as_string() == "failed";
                              },
                              60s),
                          t.logs());
    const std::string error(t.deliveries(c, endpoint).at(0).at("attempts").at(0).at("error").as_string());
    BOOST_TEST(error.find("TLS handshake") != std::string::npos, error);
    BOOST_TEST(receiver.received().empty());
    // Trusting the receiver's authority: the redelivery arrives over TLS, SNI and name checked.
    t.server->stop();
    t.start({{"JOBSD_WEBHOOKS_CA_FILE", cert.certificate.string()}});
    auto c2 = t.client();
    const std::string id(t.deliveries(c2, endpoint).at(0).at("id").as_string());
    BOOST_REQUIRE_EQUAL(c2.post("/api/webhooks/deliveries/" + id + "/redeliver", key_a, "", "").status, 202);
    const auto got = receiver.wait_for(1, 30s);
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_TEST(verify_signature(secret, got[0]));
}

namespace {

// Each thread of process `pid`: its name and nice value (/proc/PID/task/TID/{comm,stat}).
std::vector<std::pair<std::string, int>> threads_of(pid_t pid) {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream comm(task.path() / "comm"), stat(task.path() / "stat");
        std::string name, line;
        std::getline(comm, name);
        if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) continue;  // it ended
        // After the name in parentheses: state is field 3 of stat, nice field 19.
        std::istringstream fields(line.substr(line.rfind(')') + 2));
        std::string field;
        for (int i = 3; i <= 19 && fields >> field; ++i) {
        }
        out.emplace_back(name, std::stoi(field));
    }
    return out;
}

}  // namespace

// Deliveries go out from jobsd's own webhook thread, webhooks.nice below the io threads, so when
// the CPU is short ingestion gets it first (bench/RESULTS.md, "Webhooks"): that thread exists and
// runs at the configured nice, the threads serving clients do not, and what it sends arrives.
BOOST_AUTO_TEST_CASE(deliveries_are_sent_from_a_thread_below_ingestion) {
    auto settings = fast_settings();
    settings.push_back({"JOBSD_WEBHOOKS_NICE", "7"});
    hooks_env t(settings);
    // The thread names and lowers itself as it starts, which may be just after jobsd answers.
    int base = 0, senders = 0, lowered = 0, sender_nice = 0;
    const bool named = eventually(
        [&] {
            base = senders = lowered = sender_nice = 0;
            const auto threads = threads_of(t.server->pid());
            for (const auto& [name, nice] : threads)
                if (name == "jobsd") base = nice;  // the main thread (io thread 0) keeps the process's name
            for (const auto& [name, nice] : threads) {
                if (name == "jobsd-webhooks") {
                    ++senders;
                    sender_nice = nice;
                } else if (nice != base) {
                    ++lowered;
                }
            }
            return senders == 1 && sender_nice == base + 7;
        },
        10s);
    BOOST_TEST(named);
    BOOST_TEST(senders == 1);  // webhooks.threads: 1 by default
    BOOST_TEST(sender_nice == base + 7);
    BOOST_TEST(lowered == 0);  // only the dispatcher's thread gives way
    webhook_receiver receiver;
    auto c = t.client();
    const auto [endpoint, secret] = t.add_endpoint(c, receiver.url(), {"job.succeeded"});
    t.succeeding_workers();
    std::set<std::string> posted;
    for (int i = 0; i < 3; ++i) posted.insert(t.post_job(c, "video"));
    const auto got = receiver.wait_for(3, 60s);
    BOOST_REQUIRE_MESSAGE(got.size() == 3u, "the receiver got " << got.size() << " of 3\n" << t.logs());
    std::set<std::string> delivered;
    for (const auto& w : got) {
        delivered.insert(job_of(w));
        BOOST_TEST(verify_signature(secret, w));
    }
    BOOST_TEST(delivered == posted);
}

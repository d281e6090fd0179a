// Broker integration tests: the real jobsd binary publishing to the real test RabbitMQ node
// (scripts/test.sh starts it). Each case declares its own exchanges and queues under a unique
// name prefix, checks what reached them against DESIGN.md's message contract and the outbox's
// promises (nothing lost across broker restarts, crashes, nacks; unroutable is not "published"),
// and deletes what it declared.
#define BOOST_TEST_MODULE queue_integration_tests
#include <boost/test/unit_test.hpp>

#include "tests/support/amqp_client.hpp"
#include "tests/support/deliveries.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/request_threads.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sqlite_file.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace jobsd::test;
using seed::account_a;
using seed::job_types;
using seed::key_a;
using seed::project_a1;
using seed::prompt_a;

namespace {

const std::regex iso_time_re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$)");

using clock = std::chrono::steady_clock;

// jobsd publishing to the test broker under `names`, quick to reconnect and to retry.
scoped_env publishing(const topology_names& names, env_list extra = {}) {
    extra.insert(extra.begin(),
                 {{"JOBSD_AMQP_RECONNECT_MAX_MS", "500"}, {"JOBSD_AMQP_RETRY_DELAY_MS", "200"}});
    return scoped_env(publishing_env(names, std::move(extra)));
}

// The memory alarm that makes the broker stop reading from publishing connections: what jobsd
// sends meanwhile is neither enqueued nor confirmed. Lifted at the latest on destruction.
std::unique_ptr<node_change> memory_alarm() {
    return std::make_unique<node_change>(std::vector<std::string>{"set_vm_memory_high_watermark", "0"},
                                         std::vector<std::string>{"set_vm_memory_high_watermark", "0.4"});
}

struct posted {
    std::string uuid;
    std::string type;
    json::object body;
};

// A valid request of `type` for account A; `n` makes each body distinct. ai_image_generation
// names the image prompt and sends no version, so both version shapes are covered; the others
// carry a member the server does not know, which the message's input must keep.
json::object job_body(std::string_view type, int n) {
    const std::string tag = std::string(type) + "-" + std::to_string(n);
    if (type == "ai_image_generation") {
        return json::object{{"job_type", type},
                            {"project_id", prompt_a},
                            {"session_id", "sess-" + tag},
                            {"values", json::object{{"product", "Sneaker " + tag}}}};
    }
    return json::object{
        {"job_type", type},
        {"template_id", project_a1},
        {"version", 2},
        {"session_id", "sess-" + tag},
        {"values", json::object{{"headline", "Headline " + tag}}},
        {"client_meta", json::object{{"n", n}, {"tags", json::array{"it", type}}, {"x", nullptr}}}};
}

// Posts and returns the job, or nullopt with the status and body in `failure`. Throws when the
// connection fails.
std::optional<posted> try_post(http_client& client, std::string_view type, int n, std::string& failure) {
    json::object body = job_body(type, n);
    const auto res = client.post("/jobs/v2", key_a, json::serialize(body));
    if (res.status != 201) {
        failure = "POST " + std::string(type) + " answered " + std::to_string(res.status) + ": " + res.body;
        return std::nullopt;
    }
    return posted{std::string(res.json().at("job").at("uuid").as_string()), std::string(type),
                  std::move(body)};
}

// A jobsd child working in `dir` (its SQLite file is dir/jobs.db, so a second child on the same
// dir finds the first one's outbox), with an HTTP client to it. A failure to talk to it carries
// the child's state and stderr, since a crash is the likeliest reason.
class jobsd_child {
  public:
    explicit jobsd_child(const temp_dir& dir)
        : process_(start(dir)), client_(process_->host(), process_->port()) {}

    jobsd_process& process() { return *process_; }
    const std::string& host() const { return process_->host(); }
    unsigned short port() const { return process_->port(); }
    std::string diagnosis() { return process_->diagnosis(); }

    // Every sample of /metrics by its full name (labels included).
    std::map<std::string, double> metrics() {
        return guarded([&] { return scrape_metrics(client_); });
    }

    // One metric; a missing one throws, so it can never read as zero.
    double metric(const std::string& name) { return jobsd::test::metric(metrics(), name); }

    // The outbox and publisher metrics on one line, for messages.
    std::string summary() {
        std::ostringstream out;
        for (const auto& [name, value] : metrics())
            if (name.starts_with("jobsd_outbox") || name.starts_with("jobsd_amqp"))
                out << name << "=" << value << " ";
        return out.str();
    }

    // GET /readyz: its status code and body.
    std::pair<int, std::string> readiness() {
        return guarded([&] {
            const auto res = client_.get("/readyz");
            return std::make_pair(static_cast<int>(res.status), res.body);
        });
    }

    // /healthz's "broker": "connected", "down" or "disabled".
    std::string broker_health() {
        return guarded([&] {
            const auto res = client_.get("/healthz");
            if (res.status != 200) return "HTTP " + std::to_string(res.status);
            return std::string(res.json().at("broker").as_string());
        });
    }

    posted post(std::string_view type, int n) {
        std::string failure;
        auto job = guarded([&] { return try_post(client_, type, n, failure); });
        BOOST_TEST_REQUIRE(job.has_value(), failure);
        return std::move(*job);
    }

    void require_connected() {
        BOOST_TEST_REQUIRE(wait_until([&] { return broker_health() == "connected"; }, 60s),
                           "jobsd did not connect to the broker within 60 s; " << diagnosis());
    }

    void require_outbox_empty(std::chrono::seconds timeout) {
        BOOST_TEST_REQUIRE(wait_until([&] { return metric("jobsd_outbox_unpublished") == 0; }, timeout),
                           "outbox not empty after " << timeout.count() << " s: " << summary() << "\n"
                                                     << diagnosis());
    }

  private:
    static std::unique_ptr<jobsd_process> start(const temp_dir& dir) { return start_test_jobsd(dir); }

    template <class F>
    auto guarded(F f) -> decltype(f()) {
        try {
            return f();
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string(e.what()) + "\n" + process_->diagnosis());
        }
    }

    std::unique_ptr<jobsd_process> process_;
    http_client client_;
};

// ---- broker side ---------------------------------------------------------------------------------

// Drains every job queue of the case that exists (not the dead-letter queues: jobsd itself
// consumes those). The outbox being empty means the broker confirmed everything, so a short
// idle timeout only has to cover delivery.
std::vector<received> drain_all(amqp_client& broker, const topology_names& names,
                                std::chrono::milliseconds idle = 750ms) {
    std::vector<received> all;
    for (auto type : job_types) {
        const auto q = names.queue(type);
        if (!broker.message_count(q)) continue;
        auto got = broker.drain(q, idle);
        all.insert(all.end(), got.begin(), got.end());
    }
    return all;
}

// Every delivered job answered 201 reached the broker; duplicates are reported, not failed.
void expect_all_delivered(const std::vector<std::string>& accepted, const std::vector<received>& got) {
    const auto r = compare_deliveries(accepted, got);
    BOOST_TEST_MESSAGE(accepted.size()
                       << " jobs answered 201, " << got.size() << " messages drained, " << r.duplicated.size()
                       << " duplicated" << (r.duplicated.empty() ? "" : ": " + first_few(r.duplicated, 50)));
    BOOST_TEST(r.missing.empty(), r.missing.size()
                                      << " of " << accepted.size()
                                      << " accepted jobs never reached a queue: " << first_few(r.missing));
    BOOST_TEST(r.unexpected.empty(), "messages of jobs this case never posted: " << first_few(r.unexpected));
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// DESIGN.md, "The message contract": properties and body of one job message.
void expect_contract(const received& m, const posted& job, const topology_names& names, std::int64_t t0,
                     std::int64_t t1) {
    BOOST_TEST_CONTEXT("message of job " << job.uuid << " (" << job.type << ")") {
        BOOST_TEST(m.queue == names.queue(job.type));
        BOOST_TEST(m.exchange == names.exchange());
        BOOST_TEST(m.routing_key == job.type);
        BOOST_TEST(m.delivery_mode == 2);
        BOOST_TEST(m.content_type == "application/json");
        BOOST_TEST(m.message_id == job.uuid);
        BOOST_TEST(m.type == job.type);
        BOOST_TEST(m.timestamp.has_value(), "no timestamp property");
        if (m.timestamp) {
            const auto ts = static_cast<std::int64_t>(*m.timestamp);
            BOOST_TEST((ts >= t0 - 5 && ts <= t1 + 5), "timestamp "
                                                           << ts << " is not within the test's time [" << t0
                                                           << ", " << t1 << "] (seconds)");
        }
        boost::system::error_code ec;
        const json::value body = json::parse(m.body, ec);
        BOOST_TEST_REQUIRE(!ec, "body is not JSON: " << m.body);
        BOOST_TEST_REQUIRE(body.is_object(), "body is not an object: " << m.body);
        const auto& o = body.as_object();
        std::set<std::string> keys;
        for (const auto& kv : o) keys.insert(std::string(kv.key()));
        // Contract 3 (worker/README.md): `contract`, `attempt` and `priority` too; these jobs have
        // no deadline.
        const std::set<std::string> contract{"uuid",       "job_type", "account_id", "source_id",
                                             "session_id", "version",  "input",      "created_at",
                                             "contract",   "attempt",  "priority"};
        BOOST_TEST((keys == contract), "body keys differ from the contract: " << m.body);
        BOOST_TEST((o.contains("contract") && o.at("contract") == json::value(3)), m.body);
        BOOST_TEST((o.contains("attempt") && o.at("attempt") == json::value(1)), m.body);
        auto str = [&](const char* k) -> std::string {
            const auto* v = o.if_contains(k);
            return v && v->is_string() ? std::string(v->get_string()) : "<not a string>";
        };
        BOOST_TEST(str("uuid") == job.uuid);
        BOOST_TEST(str("job_type") == job.type);
        BOOST_TEST(str("account_id") == account_a);
        const bool by_prompt = job.body.contains("project_id") && !job.body.contains("template_id");
        BOOST_TEST(str("source_id") == (by_prompt ? prompt_a : project_a1));
        BOOST_TEST(str("session_id") == std::string(job.body.at("session_id").as_string()));
        if (const auto* v = o.if_contains("version")) {
            if (const auto* sent = job.body.if_contains("version")) {
                // Compared as numbers: the contract does not say integer or floating point.
                BOOST_TEST((v->is_number() && v->to_number<double>() == sent->to_number<double>()),
                           "version " << json::serialize(*v) << ", sent " << json::serialize(*sent));
            } else {
                BOOST_TEST(v->is_null(), "version " << json::serialize(*v) << " for a request without one");
            }
        }
        if (const auto* input = o.if_contains("input"))
            BOOST_TEST((*input == json::value(job.body)),
                       "input " << json::serialize(*input) << " != posted " << json::serialize(job.body));
        BOOST_TEST(std::regex_match(str("created_at"), iso_time_re), "created_at " << str("created_at"));
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(every_type_arrives_once_with_the_contract) {
    auto broker = connect_test_broker();
    const topology_names names("it-contract-");
    topology_cleanup cleanup(names);
    const auto env = publishing(names);
    temp_dir dir("jobsd-it-contract");
    jobsd_child server(dir);
    server.require_connected();

    const auto t0 = unix_now();
    constexpr int per_type = 5;
    std::map<std::string, posted> jobs;
    std::vector<std::string> accepted;
    for (int i = 0; i < per_type; ++i) {
        for (auto type : job_types) {
            auto job = server.post(type, i);
            accepted.push_back(job.uuid);
            jobs.emplace(job.uuid, std::move(job));
        }
    }
    server.require_outbox_empty(30s);
    const auto t1 = unix_now();

    const auto got = drain_all(*broker, names);
    const auto report = compare_deliveries(accepted, got);
    BOOST_TEST(report.missing.empty(), "never delivered: " << first_few(report.missing));
    BOOST_TEST(report.duplicated.empty(), "delivered more than once: " << first_few(report.duplicated));
    BOOST_TEST(report.unexpected.empty(), "not posted by this case: " << first_few(report.unexpected));
    BOOST_TEST(got.size() == jobs.size());
    for (const auto& m : got) {
        if (auto it = jobs.find(m.message_id); it != jobs.end())
            expect_contract(m, it->second, names, t0, t1);
    }
    BOOST_TEST(server.metric("jobsd_amqp_nacked_total") == 0);
    BOOST_TEST(server.metric("jobsd_amqp_returned_total") == 0);
}

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(broker_restart_loses_nothing) {
    connect_test_broker();  // only to fail early and clearly: the node is about to go away
    const topology_names names("it-restart-");
    topology_cleanup cleanup(names);
    node_restarter node;
    const auto env = publishing(names);
    temp_dir dir("jobsd-it-restart");
    jobsd_child server(dir);
    server.require_connected();

    std::mutex mutex;
    std::vector<std::string> accepted;  // guarded by mutex
    std::vector<std::string> failures;  // guarded by mutex
    std::atomic<std::size_t> accepted_count{0};
    std::atomic<bool> stop_posting{false};
    std::vector<std::thread> posters;
    // Joins the posters however the case ends; declared after `server`, so it runs first.
    struct joiner {
        std::atomic<bool>& stop;
        std::vector<std::thread>& threads;
        ~joiner() {
            stop = true;
            for (auto& th : threads)
                if (th.joinable()) th.join();
        }
    } join_posters{stop_posting, posters};
    for (int t = 0; t < 2; ++t) {
        posters.emplace_back([&, t] {
            http_client poster(server.host(), server.port(), 20s);
            for (int n = 0; !stop_posting; ++n) {
                std::string failure;
                try {
                    auto job = try_post(poster, t == 0 ? "video" : "tts", n, failure);
                    std::lock_guard lock(mutex);
                    if (job) {
                        accepted.push_back(job->uuid);
                        ++accepted_count;
                    } else {
                        failures.push_back(failure);
                    }
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    failures.push_back(e.what());
                }
                // Paced, so the drain at the end stays small: at most about 100 jobs/s per thread.
                std::this_thread::sleep_for(10ms);
            }
        });
    }
    auto first_failure = [&] {
        std::lock_guard lock(mutex);
        return failures.empty() ? std::string() : failures.front();
    };

    BOOST_TEST_REQUIRE(wait_until([&] { return accepted_count >= 100 || !first_failure().empty(); }, 30s),
                       "posting did not get going");
    BOOST_TEST_REQUIRE(first_failure().empty(),
                       "posting failed before the node stopped: " << first_failure());
    const auto before_stop = clock::now();
    node.stop();
    BOOST_TEST_MESSAGE(
        "node stopped in "
        << std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - before_stop).count()
        << " ms");
    BOOST_TEST(wait_until([&] { return server.broker_health() == "down"; }, 60s),
               "/healthz does not say the broker is down: " << server.broker_health());
    const std::size_t at_down = accepted_count;
    std::this_thread::sleep_for(3s);
    const std::size_t during_outage = accepted_count - at_down;
    BOOST_TEST(during_outage > 0u, "no job was accepted while the broker was down");
    // They wait in the store: in the outbox, or held in the fair queue when their type's queue was
    // already full at the last count (a node slow to stop takes more jobs into its queue first;
    // seen in a loaded run). Both kinds are sent once the node is back (checked below).
    const double unpublished = server.metric("jobsd_outbox_unpublished");
    const double held =
        server.metric("jobsd_fair_queue_held_total") - server.metric("jobsd_fair_queue_released_total");
    BOOST_TEST_MESSAGE("during the outage: " << unpublished << " jobs in the outbox, " << held << " held");
    BOOST_TEST(unpublished + held > 0, "no job waits in the outbox or the fair queue: " << server.summary());
    // Alive but not ready: balancers should prefer an instance that can publish.
    const auto unready = server.readiness();
    BOOST_TEST(unready.first == 503);
    BOOST_TEST(unready.second.find("broker disconnected") != std::string::npos, unready.second);

    const auto before_start = clock::now();
    node.start();
    BOOST_TEST_MESSAGE(
        "node started in "
        << std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - before_start).count()
        << " ms");
    BOOST_TEST(wait_until([&] { return server.broker_health() == "connected"; }, 120s),
               "jobsd did not reconnect within 120 s of the node's start; " << server.summary());
    BOOST_TEST(wait_until([&] { return server.readiness().first == 200; }, 60s),
               "/readyz did not turn ready again: " << server.readiness().second);
    std::this_thread::sleep_for(3s);
    stop_posting = true;
    for (auto& th : posters) th.join();

    server.require_outbox_empty(90s);
    BOOST_TEST(server.metric("jobsd_amqp_reconnects_total") >= 1);
    BOOST_TEST(first_failure().empty(), failures.size() << " posts failed, first: " << first_failure());
    BOOST_TEST_MESSAGE(accepted.size() << " accepted, " << during_outage
                                       << " of them in 3 s while the node was down; " << server.summary());
    auto broker = connect_test_broker();
    expect_all_delivered(accepted, drain_all(*broker, names, 2s));
}

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(kill9_with_unconfirmed_messages_relays_on_restart) {
    auto broker = connect_test_broker();
    const topology_names names("it-kill9-");
    topology_cleanup cleanup(names);
    const auto env = publishing(names);
    temp_dir dir("jobsd-it-kill9");
    std::vector<std::string> accepted;
    {
        jobsd_child server(dir);
        server.require_connected();

        // A memory alarm makes the broker stop reading from publishing connections: what jobsd
        // sent before connection.blocked is neither enqueued nor confirmed, and after it jobsd
        // sends nothing more (the jobs wait in the outbox).
        auto alarm = memory_alarm();
        constexpr int batch = 40;
        for (int i = 0; i < batch; ++i)
            accepted.push_back(server.post(job_types[i % job_types.size()], i).uuid);
        BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_amqp_blocked") == 1; }, 10s),
                           "jobsd was not blocked: " << server.summary());
        std::this_thread::sleep_for(1s);  // time for confirms, were the broker to send any
        const double confirmed = server.metric("jobsd_amqp_confirmed_total");
        const double unpublished = server.metric("jobsd_outbox_unpublished");
        BOOST_TEST_MESSAGE("before SIGKILL: " << server.summary());
        BOOST_TEST_REQUIRE((confirmed == 0 && unpublished == batch),
                           "the memory alarm did not hold the batch back: " << server.summary());
        server.process().kill9();
        alarm->undo();
    }

    jobsd_child again(dir);  // same SQLite file, same names
    again.require_outbox_empty(60s);
    BOOST_TEST(again.metric("jobsd_amqp_republished_total") > 0, "the restart relayed nothing");
    expect_all_delivered(accepted, drain_all(*broker, names, 2s));
}

// ---------------------------------------------------------------------------------------------
// Classic queues for this case: under `max-length 0` + `reject-publish`, RabbitMQ 3.10's quorum
// queues do nack, but accept the first message while still empty, and keep nacking after the
// policy is cleared until their length changes, which would make the end of this case depend on
// a consumer. Classic queues nack every publish, and accept again as soon as the policy is gone.
BOOST_AUTO_TEST_CASE(nacked_publish_is_retried) {
    auto broker = connect_test_broker();
    const topology_names names("it-nack-");
    topology_cleanup cleanup(names);
    const auto env = publishing(names, {{"JOBSD_AMQP_QUEUE_TYPE", "classic"}});
    temp_dir dir("jobsd-it-nack");
    jobsd_child server(dir);
    server.require_connected();

    // Policies reach the queues asynchronously; post only once the job queue has it.
    auto reject = apply_queue_policy(names.prefix + "reject", "^" + regex_escape(names.prefix),
                                     R"({"max-length":0,"overflow":"reject-publish"})", names.queue("video"));

    std::vector<std::string> accepted;
    for (int i = 0; i < 5; ++i) accepted.push_back(server.post("video", i).uuid);
    // Nacked, retried after the retry delay, nacked again: still in the outbox meanwhile.
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_amqp_nacked_total") >= 10; }, 20s),
                       "no repeated nacks: " << server.summary() << "\n"
                                             << server.diagnosis());
    BOOST_TEST(server.metric("jobsd_outbox_unpublished") == 5, server.summary());
    BOOST_TEST(server.metric("jobsd_amqp_confirmed_total") == 0, server.summary());
    BOOST_TEST_MESSAGE("while rejecting: " << server.summary());
    reject->undo();

    server.require_outbox_empty(30s);
    BOOST_TEST(server.metric("jobsd_amqp_republished_total") > 0);
    expect_all_delivered(accepted, drain_all(*broker, names));
}

// An unroutable job (its queue deleted) is counted as returned, stays in the outbox, pauses its
// type and is delivered once jobsd declared the queue again: reliability_tests,
// unroutable_type_is_paused_redeclared_and_then_delivered. (A type missing from amqp.job_types,
// which this file used to test, now stops jobsd at start.)

// The relay's safety sweep runs while jobs flow (here every 100 ms): it must skip every job the
// fast path is sending or has just had confirmed, even when its outbox read comes from a
// snapshot older than the "published" mark, so steady operation sends each job exactly once.
BOOST_AUTO_TEST_CASE(relay_sweeps_under_load_send_each_job_once) {
    auto broker = connect_test_broker();
    const topology_names names("it-sweep-");
    topology_cleanup cleanup(names);
    const auto env = publishing(names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "100"}});
    temp_dir dir("jobsd-it-sweep");
    jobsd_child server(dir);
    server.require_connected();

    std::mutex mu;
    std::vector<std::string> accepted;
    std::vector<std::thread> posters;
    const auto until = std::chrono::steady_clock::now() + 3s;
    for (int t = 0; t < 4; ++t)
        posters.emplace_back([&, t] {
            http_client client(server.host(), server.port());
            for (int n = 0; std::chrono::steady_clock::now() < until; ++n) {
                std::string failure;
                if (auto job = try_post(client, job_types[static_cast<std::size_t>(n + t) % job_types.size()],
                                        n, failure)) {
                    std::lock_guard lock(mu);
                    accepted.push_back(job->uuid);
                }
            }
        });
    for (auto& p : posters) p.join();
    server.require_outbox_empty(30s);

    const auto got = drain_all(*broker, names);
    const auto report = compare_deliveries(accepted, got);
    BOOST_TEST_MESSAGE(accepted.size() << " accepted, " << got.size() << " delivered, republished "
                                       << server.metric("jobsd_amqp_republished_total"));
    BOOST_TEST(accepted.size() > 100u);
    BOOST_TEST(report.missing.empty(), "never delivered: " << first_few(report.missing));
    BOOST_TEST(report.duplicated.empty(), "sent twice: " << first_few(report.duplicated));
}

// SIGTERM under load: jobsd stops accepting, answers what it has read (requests read after the
// signal get 503, never a reset mid-commit), flushes the group commit and the confirms it can,
// and exits 0. Whatever a client saw, the store agrees: every job answered 201 is stored, and no
// job is stored that was not answered 201 (a request cut off after its commit would be). Every
// job answered 201 is published after the restart at the latest.
BOOST_AUTO_TEST_CASE(sigterm_under_load_keeps_every_accepted_job) {
    auto broker = connect_test_broker();
    const topology_names names("it-sigterm-");
    topology_cleanup cleanup(names);
    const auto env = publishing(names);
    temp_dir dir("jobsd-it-sigterm");
    std::mutex mu;
    std::vector<std::string> accepted;       // guarded by mu
    std::map<unsigned, int> other_statuses;  // guarded by mu
    std::map<std::string, int> errors;       // guarded by mu: requests that got no answer, by error
    {
        jobsd_child server(dir);
        server.require_connected();
        std::atomic<bool> stop{false};
        std::vector<std::thread> posters;
        for (int t = 0; t < 4; ++t)
            posters.emplace_back([&, t] {
                http_client client(server.host(), server.port());
                for (int n = 0; !stop; ++n) {
                    try {
                        auto res = client.post(
                            "/jobs/v2", key_a,
                            json::serialize(
                                job_body(job_types[static_cast<std::size_t>(n + t) % job_types.size()], n)));
                        std::lock_guard lock(mu);
                        if (res.status == 201)
                            accepted.push_back(std::string(res.json().at("job").at("uuid").as_string()));
                        else
                            ++other_statuses[res.status];
                    } catch (const std::exception& e) {
                        {
                            std::lock_guard lock(mu);
                            ++errors[e.what()];
                        }
                        std::this_thread::sleep_for(20ms);  // refused or closed: the server is going away
                    }
                }
            });
        BOOST_TEST_REQUIRE(wait_until(
            [&] {
                std::lock_guard lock(mu);
                return accepted.size() >= 100;
            },
            60s));
        const auto ended = server.process().stop(30s);
        stop = true;
        for (auto& p : posters) p.join();
        BOOST_TEST(ended.exited);
        BOOST_TEST(ended.code == 0);
        BOOST_TEST(!ended.forced, "jobsd did not exit within the grace period after SIGTERM");
    }
    int unexpected = 0;
    for (const auto& [status, n] : other_statuses) {
        BOOST_TEST_MESSAGE(n << " answers with status " << status);
        if (status != 503) unexpected += n;
    }
    BOOST_TEST(unexpected == 0, unexpected << " answers other than 201 or 503 during shutdown");
    for (const auto& [what, n] : errors) BOOST_TEST_MESSAGE(n << " requests without an answer: " << what);

    const auto stored = stored_uuids(test_db(dir));
    std::size_t lost = 0;
    for (const auto& uuid : accepted) lost += stored.count(uuid) == 0;
    BOOST_TEST(lost == 0u, lost << " jobs answered 201 are not stored");
    BOOST_TEST(stored.size() == accepted.size(), stored.size() << " jobs stored for " << accepted.size()
                                                               << " answered 201: a request was cut off "
                                                               << "after its commit");

    jobsd_child again(dir);
    again.require_outbox_empty(60s);
    expect_all_delivered(accepted, drain_all(*broker, names, 2s));
}

// The SIGTERM contract step by step, with requests held in flight by the test (it holds SQLite's
// write lock on jobsd's file, so they wait in the store): after the signal, new connections are
// refused, a request read on an idle keep-alive connection gets 503 with Retry-After and
// `Connection: close` (and /readyz too), the held requests are still answered 201 once the store
// goes on, their jobs are committed and published, and jobsd exits 0 on its own.
BOOST_AUTO_TEST_CASE(sigterm_answers_requests_in_flight_and_refuses_new_ones) {
    auto broker = connect_test_broker();
    const topology_names names("it-drain-");
    topology_cleanup cleanup(names);
    const auto env = publishing(names, {{"JOBSD_SERVER_SHUTDOWN_GRACE_MS", "30000"}});
    temp_dir dir("jobsd-it-drain");
    jobsd_child server(dir);
    server.require_connected();
    const std::string before = server.post("video", 0).uuid;  // stored and published before the signal
    // Its mark as published is committed too: from now on every write jobsd queues is a request's.
    server.require_outbox_empty(60s);

    http_client idle(server.host(), server.port()), probe(server.host(), server.port());
    BOOST_TEST_REQUIRE(idle.get("/healthz").status == 200u);
    BOOST_TEST_REQUIRE(probe.get("/healthz").status == 200u);
    http_client observer(server.host(), server.port());
    auto post = [host = server.host(), port = server.port()] {
        http_client c(host, port);
        return c.post("/jobs/v2", key_a, json::serialize(job_body("video", 1)));
    };
    request_threads held;
    {
        sqlite_write_lock lock(test_db(dir));
        post_until_queued(held, post, observer, 1, 3s);
        ::kill(server.process().pid(), SIGTERM);
        // Draining starts: a request read now on an idle connection gets 503 and the close.
        std::optional<http_response> refused;
        BOOST_TEST_REQUIRE(wait_until(
                               [&] {
                                   auto res = idle.get("/healthz");
                                   if (res.status == 200) return false;
                                   refused = std::move(res);
                                   return true;
                               },
                               3s, 10ms),
                           "jobsd did not start draining");
        BOOST_TEST(refused->status == 503u, refused->body);
        BOOST_TEST(refused->header("Retry-After") == "1");
        BOOST_TEST(refused->header("Connection") == "close");
        BOOST_TEST(refused->json().at("message").as_string() == "Server is shutting down, retry later");
        BOOST_TEST(probe.get("/readyz").status == 503u);
        // The listener is closed: no new connection.
        http_client fresh(server.host(), server.port(), 3s);
        BOOST_CHECK_THROW(fresh.get("/healthz"), std::exception);
        BOOST_TEST(held.ended() == 0u, "a held request ended before the store went on");
        BOOST_TEST_MESSAGE(held.started() << " requests held for " << lock.held().count() << " ms");
    }
    std::vector<std::string> answered;
    for (const auto& o : held.join()) {
        BOOST_TEST(o.status == 201u, o.status << " " << o.body << o.error);
        if (o.status == 201) answered.emplace_back(json::parse(o.body).at("job").at("uuid").as_string());
    }
    BOOST_TEST(answered.size() == held.started());
    const auto ended = server.process().wait_exit(30s);  // signalled already: only wait
    BOOST_TEST(ended.exited, "jobsd ended by signal " << ended.signal);
    BOOST_TEST(ended.code == 0);
    BOOST_TEST(!ended.forced);

    const auto stored = stored_uuids(test_db(dir));
    for (const auto& uuid : answered)
        BOOST_TEST(stored.count(uuid) == 1u, uuid << " answered 201, not stored");
    BOOST_TEST(stored.size() == answered.size() + 1);
    // Published before the exit: on the broker, and marked so in the file (the confirms were
    // collected); a job the exit left unconfirmed would be sent again by the next start.
    const auto unpublished = sqlite_int(test_db(dir), "SELECT count(*) FROM outbox");
    BOOST_TEST_MESSAGE(unpublished << " jobs left unpublished at the exit");
    answered.push_back(before);
    expect_all_delivered(answered, drain_all(*broker, names, 2s));
}

// Shutdown waits for the broker's confirms for a second at most: with the broker withholding
// them (memory alarm), SIGTERM still ends jobsd with 0 in time, and the unconfirmed jobs stay in
// the outbox for the next start.
BOOST_AUTO_TEST_CASE(sigterm_with_confirms_withheld_exits_in_time) {
    auto broker = connect_test_broker();
    const topology_names names("it-withheld-");
    topology_cleanup cleanup(names);
    const auto env = publishing(names);
    temp_dir dir("jobsd-it-withheld");
    std::vector<std::string> accepted;
    {
        jobsd_child server(dir);
        server.require_connected();
        auto alarm = memory_alarm();
        for (int i = 0; i < 10; ++i) accepted.push_back(server.post("tts", i).uuid);
        // What jobsd sent before connection.blocked stays unconfirmed; after it jobsd sends
        // nothing more (issue 14), so the jobs wait in the outbox.
        BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_amqp_blocked") == 1; }, 30s),
                           "jobsd was not blocked: " << server.summary());
        const auto started = clock::now();
        const auto ended = server.process().stop(10s);
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
        BOOST_TEST_MESSAGE("jobsd exited " << took.count() << " ms after SIGTERM");
        BOOST_TEST(ended.exited);
        BOOST_TEST(ended.code == 0);
        BOOST_TEST(!ended.forced, "jobsd still waited for confirms 10 s after SIGTERM");
        BOOST_TEST(sqlite_int(test_db(dir), "SELECT count(*) FROM outbox") == 10);
        alarm->undo();
    }
    jobsd_child again(dir);
    again.require_outbox_empty(60s);
    expect_all_delivered(accepted, drain_all(*broker, names, 2s));
}

// After every connect the relay sends the whole backlog, oldest first: jobs committed while the
// broker could not be reached (a URL where nothing listens) reach their queue in commit order
// once a jobsd on the same file connects.
BOOST_AUTO_TEST_CASE(relay_sends_the_backlog_oldest_first) {
    auto broker = connect_test_broker();
    const topology_names names("it-order-");
    topology_cleanup cleanup(names);
    temp_dir dir("jobsd-it-order");
    std::vector<std::string> committed;
    {
        const auto env = publishing(names, {{"JOBSD_AMQP_URLS", "amqp://guest:guest@127.0.0.1:1/"}});
        jobsd_child away(dir);
        for (int i = 0; i < 60; ++i) committed.push_back(away.post("pdf", i).uuid);
        BOOST_TEST(away.metric("jobsd_outbox_unpublished") == 60);
        BOOST_TEST(away.process().stop().code == 0);
    }
    const auto env = publishing(names);
    jobsd_child server(dir);
    server.require_outbox_empty(60s);
    const auto got = broker->drain(names.queue("pdf"), 2s);
    std::vector<std::string> order;
    for (const auto& m : got) order.push_back(m.message_id);
    BOOST_TEST(order == committed, "delivered in another order than committed: " << first_few(order));
}

// publish_queue_max bounds the publisher's hand-over: with the broker taking nothing (memory
// alarm), at most the confirm window, the send queue and the hand-over queue hold jobs in memory;
// the rest are left to the outbox (jobsd_amqp_deferred_total), and the relay sends them all once
// the broker is back.
BOOST_AUTO_TEST_CASE(publish_queue_max_leaves_the_rest_in_the_outbox) {
    auto broker = connect_test_broker();
    const topology_names names("it-bound-");
    topology_cleanup cleanup(names);
    constexpr int window = 2, queue_max = 4, posted = 40;
    const auto env = publishing(names, {{"JOBSD_AMQP_CONFIRM_WINDOW", std::to_string(window)},
                                        {"JOBSD_AMQP_PUBLISH_QUEUE_MAX", std::to_string(queue_max)}});
    temp_dir dir("jobsd-it-bound");
    jobsd_child server(dir);
    server.require_connected();
    std::vector<std::string> accepted;
    {
        auto alarm = memory_alarm();
        for (int i = 0; i < posted; ++i)
            accepted.push_back(server.post(job_types[i % job_types.size()], i).uuid);
        const auto m = server.metrics();
        const double deferred = metric(m, "jobsd_amqp_deferred_total");
        const double confirmed = metric(m, "jobsd_amqp_confirmed_total");  // any before the alarm held
        BOOST_TEST_MESSAGE("while the broker takes nothing: " << server.summary());
        BOOST_TEST(metric(m, "jobsd_amqp_published_total") - confirmed <= window, server.summary());
        // In memory at most: the window, the send queue and the hand-over queue.
        BOOST_TEST(deferred >= posted - confirmed - (window + 2 * queue_max), server.summary());
        alarm->undo();
    }
    server.require_outbox_empty(60s);
    expect_all_delivered(accepted, drain_all(*broker, names, 2s));
}

// Several jobsd on one PostgreSQL database and the test broker, as black boxes: load through
// two instances while one is killed with SIGKILL; and one instance while the database restarts.
// The promises checked: every job answered 201 is committed (readable from a survivor) and
// ends up published; no 201 for a job that was not committed; service resumes by itself; a
// session stream on one instance hears the status changes the others make.
#define BOOST_TEST_MODULE pg_integration_tests
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/amqp_client.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/pg_test_schema.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using namespace jobsd::test;
using seed::key_a;
using seed::project_a1;

namespace {

// jobsd on `schema`, working in `dir`, with `env` for the child.
std::unique_ptr<jobsd_process> start_on(const temp_dir& dir, const std::string& url, env_list env = {}) {
    jobsd_options o;
    o.store_url = url;
    o.env = std::move(env);
    return jobsd::test::start_jobsd(dir, o);
}

std::string job_body(int n) {
    return json::serialize(
        json::object{{"job_type", "video"},
                     {"template_id", project_a1},
                     {"version", 2},
                     {"session_id", "sess-" + std::to_string(n)},
                     {"values", json::object{{"headline", "Headline " + std::to_string(n)}}}});
}

// Posts jobs to one jobsd from a thread until told to stop or the server goes away; keeps the
// uuids of the 201 answers.
class poster {
  public:
    poster(std::string host, unsigned short port, int base)
        : host_(std::move(host)), port_(port), base_(base) {
        thread_ = std::thread([this] { run(); });
    }
    ~poster() { finish(); }
    void finish() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::vector<std::string> created() {
        std::lock_guard lock(mu_);
        return created_;
    }
    std::size_t created_count() {
        std::lock_guard lock(mu_);
        return created_.size();
    }
    std::size_t failures() const { return failures_; }
    std::size_t other_status() const { return other_status_; }
    // How many answers other than 201 came, by status code.
    std::map<unsigned, std::size_t> refusals() {
        std::lock_guard lock(mu_);
        return refusals_;
    }

  private:
    void run() {
        for (int n = 0; !stop_; ++n) {
            try {
                http_client client(host_, port_, 10s);
                for (; !stop_; ++n) {
                    const auto res = client.post("/jobs/v2", key_a, job_body(base_ + n));
                    if (res.status == 201) {
                        std::lock_guard lock(mu_);
                        created_.emplace_back(res.json().at("job").at("uuid").as_string());
                    } else {
                        ++other_status_;
                        std::lock_guard lock(mu_);
                        ++refusals_[res.status];
                    }
                }
            } catch (const std::exception&) {
                ++failures_;  // the server died or dropped the connection: try again shortly
                std::this_thread::sleep_for(50ms);
            }
        }
    }

    std::string host_;
    unsigned short port_;
    int base_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> failures_{0}, other_status_{0};
    std::mutex mu_;
    std::vector<std::string> created_;          // guarded by mu_
    std::map<unsigned, std::size_t> refusals_;  // guarded by mu_
    std::thread thread_;
};

script_result postgres_script(const std::vector<std::string>& args) {
    return run_script(required_env("JOBSD_POSTGRES_SCRIPT"), args);
}

// Brings the cluster back up even when a test fails half-way.
struct cluster_restarter {
    bool stopped = false;
    ~cluster_restarter() {
        if (stopped) postgres_script({"start", required_env("JOBSD_TEST_POSTGRES_DIR")});
    }
};

std::string in_list(const std::vector<std::string>& uuids) {
    std::string s = "(";
    for (std::size_t i = 0; i < uuids.size(); ++i) s += (i ? ",'" : "'") + uuids[i] + "'";
    return s + ")";
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_instances_kill9_one_every_201_is_published_once_claimed) {
    pg_test_schema schema;
    const topology_names names("pg-kill9-");
    topology_cleanup cleanup(names);
    const scoped_env env(publishing_env(
        names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "500"}, {"JOBSD_STORE_CLAIM_LEASE_MS", "2000"}}));
    temp_dir dir_a("jobsd-pg-a"), dir_b("jobsd-pg-b");
    auto a = start_on(dir_a, schema.url());
    auto b = start_on(dir_b, schema.url());

    std::vector<std::string> from_a, from_b;
    std::size_t other_a = 0, other_b = 0;
    {
        poster pa1(a->host(), a->port(), 0), pa2(a->host(), a->port(), 1'000'000);
        poster pb1(b->host(), b->port(), 2'000'000), pb2(b->host(), b->port(), 3'000'000);
        BOOST_TEST_REQUIRE(wait_until([&] { return pa1.created_count() + pa2.created_count() >= 200; }, 60s),
                           "instance A created too few jobs\n"
                               << a->diagnosis());
        a->kill9();  // mid-stream: its claimed, unconfirmed jobs are left to the lease
        pa1.finish();
        pa2.finish();
        BOOST_TEST_REQUIRE(wait_until([&] { return pb1.created_count() + pb2.created_count() >= 200; }, 60s),
                           "instance B created too few jobs\n"
                               << b->diagnosis());
        pb1.finish();
        pb2.finish();
        for (auto* p : {&pa1, &pa2}) {
            auto c = p->created();
            from_a.insert(from_a.end(), c.begin(), c.end());
            other_a += p->other_status();
        }
        for (auto* p : {&pb1, &pb2}) {
            auto c = p->created();
            from_b.insert(from_b.end(), c.begin(), c.end());
            other_b += p->other_status();
        }
    }
    BOOST_TEST_MESSAGE("201s: " << from_a.size() << " from A (killed), " << from_b.size()
                                << " from B; non-201: " << other_a << " / " << other_b);
    BOOST_TEST(other_b == 0u);

    // Readable from the survivor, every one.
    http_client client(b->host(), b->port());
    std::size_t missing = 0;
    for (const auto* list : {&from_a, &from_b})
        for (const auto& uuid : *list)
            if (client.get("/jobs/" + uuid, key_a).status != 200) ++missing;
    BOOST_TEST(missing == 0u, missing << " jobs answered 201 are not readable from the survivor");

    // Published: B takes A's jobs over once A's lease has run out.
    std::vector<std::string> all = from_a;
    all.insert(all.end(), from_b.begin(), from_b.end());
    auto unpublished = [&] {
        return std::stoul(
            schema.exec("SELECT count(*) FROM jobs WHERE NOT published AND uuid IN " + in_list(all)));
    };
    BOOST_TEST_REQUIRE(wait_until([&] { return unpublished() == 0; }, 60s), unpublished()
                                                                                << " jobs still unpublished\n"
                                                                                << b->diagnosis());
    BOOST_TEST(std::stoul(schema.exec("SELECT count(*) FROM jobs WHERE uuid IN " + in_list(all))) ==
               all.size());

    // And on the broker: every 201'd job arrived (a crash may repeat a few, never lose one).
    auto consumer = connect_test_broker();
    const auto messages = consumer->drain(names.queue("video"), 3s);
    std::set<std::string> got;
    for (const auto& m : messages) got.insert(m.message_id);
    std::size_t lost = 0;
    for (const auto& uuid : all)
        if (!got.count(uuid)) ++lost;
    BOOST_TEST(lost == 0u, lost << " jobs answered 201 never reached the broker");
    BOOST_TEST_MESSAGE(messages.size() << " messages (" << got.size() << " distinct jobs) for " << all.size()
                                       << " jobs answered 201");
    b->stop();
}

// A live instance holds its claims past the lease by renewing them at each relay sweep, even
// while the broker withholds its confirms (memory alarm: connected, nothing confirmed); another
// instance sweeping all along takes them only once the holder is dead and its lease has run out.
BOOST_AUTO_TEST_CASE(a_live_instance_keeps_its_claims_past_the_lease_and_a_dead_ones_go_over) {
    pg_test_schema schema;
    const topology_names names("pg-lease-");
    topology_cleanup cleanup(names);
    constexpr int lease_ms = 2000;
    env_list common = publishing_env(names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "200"},
                                             {"JOBSD_STORE_CLAIM_LEASE_MS", std::to_string(lease_ms)}});
    temp_dir dir_a("jobsd-pg-la"), dir_b("jobsd-pg-lb");
    auto with_id = [&](const char* id) {
        auto vars = common;
        vars.emplace_back("JOBSD_STORE_INSTANCE_ID", id);
        return vars;
    };
    auto a = start_on(dir_a, schema.url(), with_id("instance-a"));
    auto b = start_on(dir_b, schema.url(), with_id("instance-b"));
    http_client client_a(a->host(), a->port()), client_b(b->host(), b->port());
    auto connected = [](http_client& c) {
        return c.get("/healthz").json().at("broker").as_string() == "connected";
    };
    BOOST_TEST_REQUIRE(wait_until([&] { return connected(client_a) && connected(client_b); }, 30s),
                       a->diagnosis() << "\n"
                                      << b->diagnosis());

    std::vector<std::string> created;
    auto claimed_by = [&](const std::string& who) {
        return std::stoul(schema.exec("SELECT count(*) FROM jobs WHERE NOT published AND claimed_by = '" +
                                      who + "' AND uuid IN " + in_list(created)));
    };
    {
        auto alarm =
            std::make_unique<node_change>(std::vector<std::string>{"set_vm_memory_high_watermark", "0"},
                                          std::vector<std::string>{"set_vm_memory_high_watermark", "0.4"});
        for (int n = 0; n < 20; ++n) {
            const auto res = client_a.post("/jobs/v2", key_a, job_body(n));
            BOOST_TEST_REQUIRE(res.status == 201u, res.body);
            created.emplace_back(res.json().at("job").at("uuid").as_string());
        }
        // Wait on the server's clock until the first leases would have run out twice over.
        const std::string first_until =
            schema.exec("SELECT max(claimed_until) FROM jobs WHERE uuid IN " + in_list(created));
        BOOST_TEST_REQUIRE(wait_until(
                               [&] {
                                   return schema.exec("SELECT now() > timestamptz '" + first_until +
                                                      "' + interval '" + std::to_string(lease_ms) +
                                                      " milliseconds'") == "t";
                               },
                               60s),
                           "the database clock did not pass the lease");
        // Nothing is confirmed under the alarm (should one have slipped through before it, it is
        // published and no longer claimed): every unpublished job is still A's.
        const auto unpublished = std::stoul(
            schema.exec("SELECT count(*) FROM jobs WHERE NOT published AND uuid IN " + in_list(created)));
        BOOST_TEST_REQUIRE(unpublished > 0u);
        BOOST_TEST(claimed_by("instance-a") == unpublished, claimed_by("instance-b")
                                                                << " taken by B while A lives");
        BOOST_TEST(
            std::stoul(schema.exec("SELECT count(*) FROM jobs WHERE NOT published AND claimed_until > now()"
                                   " AND uuid IN " +
                                   in_list(created))) == unpublished,
            "A's claims were not renewed");
        a->kill9();
        alarm->undo();
    }
    BOOST_TEST_REQUIRE(
        wait_until([&] { return claimed_by("instance-a") + claimed_by("instance-b") == 0; }, 60s),
        claimed_by("instance-a") << " of A's jobs still unpublished\n"
                                 << b->diagnosis());
    auto consumer = connect_test_broker();
    std::set<std::string> got;
    for (const auto& m : consumer->drain(names.queue("video"), 3s)) got.insert(m.message_id);
    for (const auto& uuid : created) BOOST_TEST(got.count(uuid) == 1u, uuid << " did not reach the broker");
    b->stop();
}

// Two jobsd (A and B) on a fresh schema, publishing to the test broker under `tag`, both
// consuming the shared events queue by the time the constructor returns.
class two_instances {
  public:
    explicit two_instances(const char* tag)
        : names_(tag),
          cleanup_(names_),
          env_(publishing_env(names_)),
          dir_a_("jobsd-pg-a"),
          dir_b_("jobsd-pg-b") {
        a_ = start_on(dir_a_, schema_.url());
        b_ = start_on(dir_b_, schema_.url());
        broker_ = connect_test_broker();
        BOOST_TEST_REQUIRE(
            wait_until([&] { return broker_->consumer_count(names_.events_queue()).value_or(0) == 2; }, 30s),
            "the events queue does not have two consumers: "
                << broker_->consumer_count(names_.events_queue()).value_or(0));
    }
    struct view {
        pg_test_schema& schema;
        const topology_names& names;
        amqp_client& broker;
        jobsd_process& a;
        jobsd_process& b;
    };
    view parts() { return {schema_, names_, *broker_, *a_, *b_}; }

  private:
    pg_test_schema schema_;
    const topology_names names_;
    topology_cleanup cleanup_;
    const scoped_env env_;
    temp_dir dir_a_, dir_b_;
    std::unique_ptr<jobsd_process> a_, b_;
    std::unique_ptr<amqp_client> broker_;
};

// Several jobsd consume the one shared jobsd.events queue: status events published for jobs of
// both are applied by both instances, each as a forward-only row update, so late and repeated
// events (a STARTED after SUCCESS, SUCCESS twice) leave every job SUCCESS whoever applied what.
BOOST_AUTO_TEST_CASE(several_instances_consume_the_shared_events_queue) {
    two_instances t("pg-events-");
    auto [schema, names, broker, a, b] = t.parts();

    std::vector<std::string> jobs;
    http_client client_a(a.host(), a.port()), client_b(b.host(), b.port());
    for (int n = 0; n < 40; ++n) {
        const auto res = (n % 2 ? client_a : client_b).post("/jobs/v2", key_a, job_body(n));
        BOOST_TEST_REQUIRE(res.status == 201u, res.body);
        jobs.emplace_back(res.json().at("job").at("uuid").as_string());
    }
    auto event = [](const std::string& uuid, const char* status, int progress = -1) {
        json::object e{{"uuid", uuid}, {"job_status", status}};
        if (progress >= 0) e["progress"] = progress;
        if (std::string_view(status) == "SUCCESS") e["output"] = json::object{{"url", "https://x/" + uuid}};
        return json::serialize(e);
    };
    for (const auto& uuid : jobs) {
        for (const auto& [status, progress] : std::vector<std::pair<const char*, int>>{
                 {"STARTED", -1}, {"IN_PROGRESS", 50}, {"SUCCESS", -1}, {"STARTED", -1}, {"SUCCESS", -1}})
            broker.publish(names.events_exchange(), std::string("video.") + status,
                           event(uuid, status, progress));
    }
    auto succeeded = [&] {
        return std::stoul(schema.exec("SELECT count(*) FROM jobs WHERE job_status = 'SUCCESS' AND uuid IN " +
                                      in_list(jobs)));
    };
    BOOST_TEST_REQUIRE(wait_until([&] { return succeeded() == jobs.size(); }, 60s),
                       succeeded() << " of " << jobs.size() << " jobs reached SUCCESS");
    // Every event was consumed, by both instances; none moved a job back.
    auto received = [](http_client& c) { return metric(c, "jobsd_events_received_total"); };
    BOOST_TEST_REQUIRE(
        wait_until([&] { return received(client_a) + received(client_b) >= jobs.size() * 5; }, 30s));
    BOOST_TEST_MESSAGE("events received: " << received(client_a) << " by A, " << received(client_b)
                                           << " by B");
    BOOST_TEST(received(client_a) > 0);
    BOOST_TEST(received(client_b) > 0);
    BOOST_TEST(std::stoul(schema.exec("SELECT count(*) FROM jobs WHERE job_status <> 'SUCCESS' AND uuid IN " +
                                      in_list(jobs))) == 0u);
    a.stop();
    b.stop();
}

// A client's stream is served by one instance; the job is created on another and its worker
// events are applied by whichever instance consumes them. Every status change reaches the
// stream, and nothing is relayed while no stream is open.
BOOST_AUTO_TEST_CASE(a_session_stream_hears_every_instance) {
    two_instances t("pg-live-");
    auto [schema, names, broker, a, b] = t.parts();
    http_client client_a(a.host(), a.port()), client_b(b.host(), b.port());
    auto session_job = [](const std::string& session) {
        return json::serialize(json::object{{"job_type", "video"},
                                            {"template_id", project_a1},
                                            {"version", 2},
                                            {"session_id", session},
                                            {"values", json::object{{"headline", "Live"}}}});
    };

    // Nobody listens: B relays nothing.
    BOOST_TEST_REQUIRE(client_b.post("/jobs/v2", key_a, session_job("live-1")).status == 201u);
    std::this_thread::sleep_for(500ms);
    BOOST_TEST(metric(client_b, "jobsd_status_relay_forwarded_total") == 0);
    BOOST_TEST(metric(client_b, "jobsd_status_relay_listened_elsewhere") == 0);

    std::optional<sse_client> stream(std::in_place, a.host(), a.port(), std::string(key_a), "live-1");
    BOOST_TEST_REQUIRE(
        wait_until([&] { return metric(client_b, "jobsd_status_relay_listened_elsewhere") == 1; }, 10s),
        "B did not hear that A has a stream open");
    std::vector<std::string> jobs;
    for (int n = 0; n < 12; ++n) {
        const auto res = client_b.post("/jobs/v2", key_a, session_job("live-1"));
        BOOST_TEST_REQUIRE(res.status == 201u, res.body);
        jobs.emplace_back(res.json().at("job").at("uuid").as_string());
    }
    auto seen = [&](const std::vector<json::value>& events, const std::string& status) {
        std::size_t n = 0;
        for (const auto& uuid : jobs)
            for (const auto& e : events)
                if (e.at("uuid").as_string() == uuid && e.at("job_status").as_string() == status) {
                    ++n;
                    break;
                }
        return n;
    };
    auto expect = [&](const char* status) {
        // Waited for first: the message's operands may be evaluated before the checked expression.
        const bool all =
            stream->wait_for([&](const auto& events) { return seen(events, status) == jobs.size(); }, 20s);
        BOOST_TEST(all, seen(stream->events(), status)
                            << " of " << jobs.size() << " jobs' " << status << " reached the stream on A");
    };
    expect("QUEUED");
    // Their worker events, consumed by both instances from the shared queue; STARTED first, as a
    // worker sends it (a SUCCESS applied first would make a later STARTED change nothing).
    for (const auto& uuid : jobs)
        broker.publish(names.events_exchange(), "video.STARTED",
                       json::serialize(json::object{{"uuid", uuid}, {"job_status", "STARTED"}}));
    expect("STARTED");
    for (const auto& uuid : jobs)
        broker.publish(names.events_exchange(), "video.SUCCESS",
                       json::serialize(json::object{{"uuid", uuid},
                                                    {"job_status", "SUCCESS"},
                                                    {"output", json::object{{"url", "https://x/" + uuid}}}}));
    expect("SUCCESS");
    BOOST_TEST(metric(client_b, "jobsd_status_relay_forwarded_total") >= jobs.size());
    BOOST_TEST(metric(client_a, "jobsd_status_relay_received_total") >= jobs.size());
    BOOST_TEST_MESSAGE("events applied: " << metric(client_a, "jobsd_events_received_total") << " by A, "
                                          << metric(client_b, "jobsd_events_received_total") << " by B");

    // The stream closes. A finds it gone at its next ping (15 s), and three seconds after A's last
    // announcement B stops relaying.
    stream.reset();
    BOOST_TEST(
        wait_until([&] { return metric(client_b, "jobsd_status_relay_listened_elsewhere") == 0; }, 30s));
    const double before = metric(client_b, "jobsd_status_relay_forwarded_total");
    BOOST_TEST_REQUIRE(client_b.post("/jobs/v2", key_a, session_job("live-1")).status == 201u);
    std::this_thread::sleep_for(300ms);
    BOOST_TEST(metric(client_b, "jobsd_status_relay_forwarded_total") == before);
    a.stop();
    b.stop();
}

BOOST_AUTO_TEST_CASE(database_restart_under_load_no_201_without_commit) {
    pg_test_schema schema;
    temp_dir dir("jobsd-pg-restart");
    auto server = start_on(dir, schema.url(), {{"JOBSD_STORE_CONNECT_TIMEOUT_MS", "1000"}});
    const std::string cluster = required_env("JOBSD_TEST_POSTGRES_DIR");
    cluster_restarter restarter;

    std::vector<std::string> created;
    std::map<unsigned, std::size_t> refusals;
    {
        poster p1(server->host(), server->port(), 0), p2(server->host(), server->port(), 1'000'000);
        BOOST_TEST_REQUIRE(wait_until([&] { return p1.created_count() + p2.created_count() >= 100; }, 60s),
                           server->diagnosis());
        restarter.stopped = true;
        auto stop = postgres_script({"stop", cluster});
        BOOST_TEST_REQUIRE(stop.status == 0, stop.output);
        // Load goes on against a database that is away, until it is refused.
        BOOST_TEST(wait_until([&] { return p1.other_status() + p2.other_status() > 0; }, 30s),
                   "no request was refused while the database was away\n"
                       << server->diagnosis());
        auto start = postgres_script({"start", cluster});
        BOOST_TEST_REQUIRE(start.status == 0, start.output);
        restarter.stopped = false;
        const auto before = p1.created_count() + p2.created_count();
        BOOST_TEST(wait_until([&] { return p1.created_count() + p2.created_count() >= before + 100; }, 60s),
                   "jobsd did not resume creating jobs after the restart\n"
                       << server->diagnosis());
        p1.finish();
        p2.finish();
        created = p1.created();
        auto c2 = p2.created();
        created.insert(created.end(), c2.begin(), c2.end());
        refusals = p1.refusals();
        for (const auto& [status, n] : p2.refusals()) refusals[status] += n;
    }
    std::size_t refused = 0;
    for (const auto& [status, n] : refusals) {
        BOOST_TEST_MESSAGE(n << " answered " << status << " while the database was away");
        // The promised refusals: 500 (the commit failed) or 503 (busy, reconnecting).
        BOOST_TEST((status == 500 || status == 503), n << " requests answered " << status);
        refused += n;
    }
    BOOST_TEST(refused > 0u);  // the outage was seen, and answered with an error, not a 201
    schema.reconnect();
    const auto committed =
        std::stoul(schema.exec("SELECT count(*) FROM jobs WHERE uuid IN " + in_list(created)));
    BOOST_TEST(committed == created.size(),
               created.size() - committed << " jobs answered 201 are not in the database");
    // It noticed the outage and said so, and came back by itself.
    const auto log = server->stderr_text();
    BOOST_TEST(log.find("postgres: connected again") != std::string::npos, log.substr(0, 4000));
    BOOST_TEST(server->stop().code == 0);
}

BOOST_AUTO_TEST_CASE(bad_urls_stop_startup_with_a_clear_error) {
    temp_dir dir("jobsd-pg-bad");
    for (const std::string url : {"postgres://jobsd@127.0.0.1:1/jobsd", "postgres://jobsd@host:port:bad/x"}) {
        try {
            auto p = start_on(dir, url);
            BOOST_ERROR("jobsd started on " << url);
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            BOOST_TEST_INFO(what);
            BOOST_TEST((what.find("cannot connect to postgres://") != std::string::npos ||
                        what.find("store.url") != std::string::npos));
        }
    }
}

// PostgreSQL refuses text that is not UTF-8 (and with it every statement batched alongside) and
// ends a text at its first NUL. Such text from a header, a query string or a URL's host is refused
// with a 400 before it reaches the store; the database sees none of it, and the requests of
// others go on.
BOOST_AUTO_TEST_CASE(text_the_database_cannot_keep_gets_a_400_and_reaches_no_statement) {
    pg_test_schema schema;
    temp_dir dir("jobsd-pg-text");
    auto server = start_on(dir, schema.url(), {{"JOBSD_AMQP_ENABLED", "false"}});
    http_client c(server->host(), server->port());
    const auto problem_of = [](const http_response& r) {
        const auto doc = r.json();  // refuses a body that is not UTF-8
        std::string out(doc.at("message").as_string());
        if (const auto* errors = doc.as_object().if_contains("errors"))
            for (const auto& e : errors->as_array())
                out += std::string(" | ") + std::string(e.at("field").as_string()) + ": " +
                       std::string(e.at("problem").as_string());
        return out;
    };

    auto res = c.request(boost::beast::http::verb::post, "/jobs/v2",
                         {{"x-api-key", std::string(key_a)},
                          {"Content-Type", "application/json"},
                          {"Idempotency-Key", "key-\xff-1"}},
                         job_body(1));
    BOOST_TEST(res.status == 400);
    BOOST_TEST(problem_of(res) == "Idempotency-Key must be UTF-8 text");
    for (const std::string target :
         {"/jobs/v2?session_id=%ff", "/jobs/v2?session_id=a%00b", "/jobs/v2?template_id=%c0%af"}) {
        res = c.get(target, key_a);
        BOOST_TEST_CONTEXT(target) {
            BOOST_TEST(res.status == 400);
            BOOST_TEST(problem_of(res).find("must be UTF-8 text") != std::string::npos, problem_of(res));
        }
    }
    res = c.get("/jobs/v2?%ff=1", key_a);
    BOOST_TEST(res.status == 400);
    BOOST_TEST(problem_of(res) == "Invalid query | (query): names a parameter that is not UTF-8 text");
    res = c.post("/jobs/v2", key_a,
                 R"({"job_type":"video","template_id":")" + std::string(project_a1) +
                     R"(","session_id":"a\u0000b","values":{"headline":"x"}})");
    BOOST_TEST(res.status == 400);
    BOOST_TEST(problem_of(res) == "Invalid request | session_id: must not contain U+0000");
    res = c.post("/jobs/v2", key_a,
                 R"({"job_type":"video","template_id":")" + std::string(project_a1) +
                     R"(","webhook":"https://%ff.example/hook","values":{"headline":"x"}})");
    BOOST_TEST(res.status == 400);
    BOOST_TEST(problem_of(res) ==
               "Invalid request | webhook: must name its host by a DNS name or an IP address");

    // The same connection, and the store, serve everyone else as before.
    res = c.post("/jobs/v2", key_a, job_body(7));
    BOOST_TEST_REQUIRE(res.status == 201, res.body);
    res = c.get("/jobs/v2?session_id=sess-7", key_a);
    BOOST_TEST_REQUIRE(res.status == 200, res.body);
    BOOST_TEST(res.json().at("data").as_array().size() == 1u);
    const std::string log = server->stderr_text();
    BOOST_TEST(log.find("a read failed") == std::string::npos, log.substr(0, 4000));
    BOOST_TEST(log.find("a write batch failed") == std::string::npos, log.substr(0, 4000));
    BOOST_TEST(server->stop().code == 0);
}

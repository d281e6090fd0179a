// Several jobsd on one PostgreSQL database and the test broker, as black boxes: load through
// two instances while one is killed with SIGKILL; and one instance while the database restarts.
// The promises checked: every job answered 201 is committed (readable from a survivor) and
// ends up published; no 201 for a job that was not committed; service resumes by itself.
#define BOOST_TEST_MODULE pg_integration_tests
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/pg_connection.hpp"
#include "tests/support/amqp_client.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using jobsd::test::amqp_client;
using jobsd::test::http_client;
using jobsd::test::jobsd_process;
using jobsd::test::required_env;
using jobsd::test::temp_dir;

extern char** environ;

namespace {

// From tests/data/seed_test.json: account A, its key and an always-active project.
constexpr std::string_view key_a = "key-a-5d1c8e7f2b9a4c6e";
constexpr std::string_view project_a1 = "468ea7a0-66e1-4357-a760-236e54167f3e";

using clock = std::chrono::steady_clock;

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (clock::now() >= deadline) return false;
        std::this_thread::sleep_for(100ms);
    }
}

// A fresh schema on the test cluster, selected by the URL the jobsd children get.
class pg_schema {
  public:
    pg_schema() {
        std::random_device rd;
        name_ = "it" + std::to_string(rd());
        try {
            admin_ = std::make_unique<jobsd::store::pg_conn_ptr>(
                jobsd::store::pg_connect_blocking(required_env("JOBSD_TEST_PG_URL"), 5s));
        } catch (const std::exception& e) {
            BOOST_FAIL("the test PostgreSQL cluster is not reachable (" << e.what()
                                                                        << "); scripts/test.sh starts it");
        }
        query("CREATE SCHEMA " + name_);
        url_ = required_env("JOBSD_TEST_PG_URL") + "?options=-c%20search_path%3D" + name_;
    }
    ~pg_schema() {
        try {
            reconnect();
            query("DROP SCHEMA " + name_ + " CASCADE");
        } catch (...) {
        }
    }
    const std::string& url() const { return url_; }
    // After a server restart the admin connection is gone.
    void reconnect() { *admin_ = jobsd::store::pg_connect_blocking(required_env("JOBSD_TEST_PG_URL"), 10s); }
    // Rows of the first column.
    std::vector<std::string> query(const std::string& sql) {
        jobsd::store::pg_reply r(PQexec(admin_->get(), ("SET search_path TO " + name_ + "; " + sql).c_str()));
        if (!r.ok()) throw std::runtime_error(r.error() + " in: " + sql);
        std::vector<std::string> rows;
        for (int i = 0; i < r.rows(); ++i) rows.emplace_back(r.text(i, 0));
        return rows;
    }

  private:
    std::string name_, url_;
    std::unique_ptr<jobsd::store::pg_conn_ptr> admin_;
};

// Sets environment variables for children started while it lives.
class scoped_env {
  public:
    explicit scoped_env(std::vector<std::pair<std::string, std::string>> vars) : vars_(std::move(vars)) {
        for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
    }
    ~scoped_env() {
        for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
    }

  private:
    std::vector<std::pair<std::string, std::string>> vars_;
};

std::unique_ptr<jobsd_process> start_jobsd(const temp_dir& dir, const std::string& url) {
    const std::string data = required_env("JOBSD_TEST_DATA");
    return std::make_unique<jobsd_process>(
        required_env("JOBSD_BIN"),
        std::vector<std::string>{"--config", data + "/jobsd_test.json", "--store", url, "--seed",
                                 data + "/seed_test.json"},
        dir.path());
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
    std::vector<std::string> created_;
    std::thread thread_;
};

// Runs scripts/postgres.sh with `args`; its exit status and output.
std::pair<int, std::string> postgres_script(std::vector<std::string> args) {
    const temp_dir scratch("jobsd-pg-script");
    const std::string log = (scratch.path() / "out.log").string();
    std::vector<std::string> storage{"bash", required_env("JOBSD_POSTGRES_SCRIPT")};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, "bash", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn postgres.sh");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
    std::ifstream in(log);
    std::ostringstream text;
    text << in.rdbuf();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
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

// Deletes what jobsd declared under `prefix` (the test broker outlives the tests' runs).
void delete_topology(amqp_client& broker, const std::string& prefix) {
    for (std::string type :
         {"ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation"}) {
        broker.delete_queue(prefix + type);
        broker.delete_queue(prefix + "dead." + type);
    }
    broker.delete_queue(prefix + "jobsd.events");
    for (const auto& x : {prefix + "jobs", prefix + "dead", prefix + "events"}) broker.delete_exchange(x);
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_instances_kill9_one_every_201_is_published_once_claimed) {
    pg_schema schema;
    const std::string prefix = "pg" + std::to_string(::getpid()) + ".";
    const std::string broker = required_env("JOBSD_TEST_AMQP_URL");
    scoped_env env({{"JOBSD_AMQP_ENABLED", "true"},
                    {"JOBSD_AMQP_URLS", broker},
                    {"JOBSD_AMQP_EXCHANGE", prefix + "jobs"},
                    {"JOBSD_AMQP_QUEUE_PREFIX", prefix},
                    {"JOBSD_AMQP_DEAD_EXCHANGE", prefix + "dead"},
                    {"JOBSD_AMQP_DEAD_QUEUE_PREFIX", prefix + "dead."},
                    {"JOBSD_AMQP_EVENTS_EXCHANGE", prefix + "events"},
                    {"JOBSD_AMQP_EVENTS_QUEUE", prefix + "jobsd.events"},
                    {"JOBSD_AMQP_RELAY_INTERVAL_MS", "500"},
                    {"JOBSD_STORE_CLAIM_LEASE_MS", "2000"}});
    temp_dir dir_a("jobsd-pg-a"), dir_b("jobsd-pg-b");
    auto a = start_jobsd(dir_a, schema.url());
    auto b = start_jobsd(dir_b, schema.url());

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
            schema.query("SELECT count(*) FROM jobs WHERE NOT published AND uuid IN " + in_list(all))[0]);
    };
    BOOST_TEST_REQUIRE(wait_until([&] { return unpublished() == 0; }, 60s), unpublished()
                                                                                << " jobs still unpublished\n"
                                                                                << b->diagnosis());
    BOOST_TEST(std::stoul(schema.query("SELECT count(*) FROM jobs WHERE uuid IN " + in_list(all))[0]) ==
               all.size());

    // And on the broker: every 201'd job arrived (a crash may repeat a few, never lose one).
    amqp_client consumer(broker, 10s);
    const auto messages = consumer.drain(prefix + "video", 3s);
    std::set<std::string> got;
    for (const auto& m : messages) got.insert(m.message_id);
    std::size_t lost = 0;
    for (const auto& uuid : all)
        if (!got.count(uuid)) ++lost;
    BOOST_TEST(lost == 0u, lost << " jobs answered 201 never reached the broker");
    BOOST_TEST_MESSAGE(messages.size() << " messages (" << got.size() << " distinct jobs) for " << all.size()
                                       << " jobs answered 201");
    b->stop();
    delete_topology(consumer, prefix);
}

// Deterministic hand-over: A can never publish (its broker URL leads nowhere), so every job it
// commits stays claimed by A until A is killed and its lease runs out; then B publishes them.
BOOST_AUTO_TEST_CASE(a_dead_instances_claimed_jobs_go_to_the_survivor_after_the_lease) {
    pg_schema schema;
    const std::string prefix = "pgl" + std::to_string(::getpid()) + ".";
    const std::string broker = required_env("JOBSD_TEST_AMQP_URL");
    std::vector<std::pair<std::string, std::string>> common{
        {"JOBSD_AMQP_ENABLED", "true"},
        {"JOBSD_AMQP_EXCHANGE", prefix + "jobs"},
        {"JOBSD_AMQP_QUEUE_PREFIX", prefix},
        {"JOBSD_AMQP_DEAD_EXCHANGE", prefix + "dead"},
        {"JOBSD_AMQP_DEAD_QUEUE_PREFIX", prefix + "dead."},
        {"JOBSD_AMQP_EVENTS_EXCHANGE", prefix + "events"},
        {"JOBSD_AMQP_EVENTS_QUEUE", prefix + "jobsd.events"},
        {"JOBSD_AMQP_RELAY_INTERVAL_MS", "300"},
        {"JOBSD_STORE_CLAIM_LEASE_MS", "3000"}};
    temp_dir dir_a("jobsd-pg-la"), dir_b("jobsd-pg-lb");
    std::unique_ptr<jobsd_process> a, b;
    {
        auto vars = common;
        vars.emplace_back("JOBSD_AMQP_URLS", "amqp://guest:guest@127.0.0.1:1/");
        scoped_env env(vars);
        a = start_jobsd(dir_a, schema.url());
    }
    {
        auto vars = common;
        vars.emplace_back("JOBSD_AMQP_URLS", broker);
        scoped_env env(vars);
        b = start_jobsd(dir_b, schema.url());
    }
    std::vector<std::string> created;
    http_client client_a(a->host(), a->port());
    for (int n = 0; n < 40; ++n) {
        const auto res = client_a.post("/jobs/v2", key_a, job_body(n));
        BOOST_TEST_REQUIRE(res.status == 201u, res.body);
        created.emplace_back(res.json().at("job").at("uuid").as_string());
    }
    // While A lives and holds them, B leaves them alone (B's relay sweeps every 300 ms).
    std::this_thread::sleep_for(1000ms);
    const auto unpublished = [&] {
        return std::stoul(
            schema.query("SELECT count(*) FROM jobs WHERE NOT published AND uuid IN " + in_list(created))[0]);
    };
    BOOST_TEST(unpublished() == created.size());
    a->kill9();
    BOOST_TEST_REQUIRE(wait_until([&] { return unpublished() == 0; }, 30s),
                       unpublished() << " of A's jobs still unpublished\n"
                                     << b->diagnosis());
    amqp_client consumer(broker, 10s);
    std::set<std::string> got;
    for (const auto& m : consumer.drain(prefix + "video", 3s)) got.insert(m.message_id);
    for (const auto& uuid : created) BOOST_TEST(got.count(uuid) == 1u, uuid << " did not reach the broker");
    b->stop();
    delete_topology(consumer, prefix);
}

BOOST_AUTO_TEST_CASE(database_restart_under_load_no_201_without_commit) {
    pg_schema schema;
    temp_dir dir("jobsd-pg-restart");
    scoped_env env(
        std::vector<std::pair<std::string, std::string>>{{"JOBSD_STORE_CONNECT_TIMEOUT_MS", "1000"}});
    auto server = start_jobsd(dir, schema.url());
    const std::string cluster = required_env("JOBSD_TEST_POSTGRES_DIR");
    cluster_restarter restarter;

    std::vector<std::string> created;
    std::size_t refused = 0;
    {
        poster p1(server->host(), server->port(), 0), p2(server->host(), server->port(), 1'000'000);
        BOOST_TEST_REQUIRE(wait_until([&] { return p1.created_count() + p2.created_count() >= 100; }, 60s),
                           server->diagnosis());
        restarter.stopped = true;
        auto stop = postgres_script({"stop", cluster});
        BOOST_TEST_REQUIRE(stop.first == 0, stop.second);
        std::this_thread::sleep_for(1500ms);  // load goes on against a database that is away
        auto start = postgres_script({"start", cluster});
        BOOST_TEST_REQUIRE(start.first == 0, start.second);
        restarter.stopped = false;
        const auto before = p1.created_count() + p2.created_count();
        BOOST_TEST(wait_until([&] { return p1.created_count() + p2.created_count() >= before + 100; }, 30s),
                   "jobsd did not resume creating jobs after the restart\n"
                       << server->diagnosis());
        p1.finish();
        p2.finish();
        created = p1.created();
        auto c2 = p2.created();
        created.insert(created.end(), c2.begin(), c2.end());
        refused = p1.other_status() + p2.other_status();
    }
    BOOST_TEST_MESSAGE(created.size()
                       << " jobs created, " << refused << " refused while the database was away");
    BOOST_TEST(refused > 0u);  // the outage was seen, and answered with an error, not a 201
    schema.reconnect();
    const auto committed =
        std::stoul(schema.query("SELECT count(*) FROM jobs WHERE uuid IN " + in_list(created))[0]);
    BOOST_TEST(committed == created.size(),
               created.size() - committed << " jobs answered 201 are not in the database");
    const auto log = server->stderr_text();
    BOOST_TEST(log.find("postgres") != std::string::npos);
    BOOST_TEST(server->stop().code == 0);
}

BOOST_AUTO_TEST_CASE(bad_urls_stop_startup_with_a_clear_error) {
    temp_dir dir("jobsd-pg-bad");
    for (const std::string url : {"postgres://jobsd@127.0.0.1:1/jobsd", "postgres://jobsd@host:port:bad/x"}) {
        try {
            auto p = start_jobsd(dir, url);
            BOOST_ERROR("jobsd started on " << url);
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            BOOST_TEST_INFO(what);
            BOOST_TEST((what.find("cannot connect to postgres://") != std::string::npos ||
                        what.find("store.url") != std::string::npos));
        }
    }
}

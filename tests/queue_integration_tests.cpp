// Broker integration tests: the real jobsd binary publishing to the real test RabbitMQ node
// (scripts/test.sh starts it). Each case declares its own exchanges and queues under a unique
// name prefix, checks what reached them against DESIGN.md's message contract and the outbox's
// promises (nothing lost across broker restarts, crashes, nacks; unroutable is not "published"),
// and deletes what it declared.
#define BOOST_TEST_MODULE queue_integration_tests
#include <boost/test/unit_test.hpp>

#include "tests/support/amqp_client.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
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
using jobsd::test::amqp_client;
using jobsd::test::http_client;
using jobsd::test::jobsd_process;
using jobsd::test::received;
using jobsd::test::required_env;
using jobsd::test::temp_dir;

namespace {

// From tests/data/seed_test.json: account A, its key, an always-active project and its image prompt.
constexpr std::string_view key_a = "key-a-5d1c8e7f2b9a4c6e";
constexpr std::string_view account_a = "acc_a";
constexpr std::string_view project_a1 = "468ea7a0-66e1-4357-a760-236e54167f3e";
constexpr std::string_view prompt_a = "f12f3401-0fd6-4a30-82d1-b85a8db70e5b";

constexpr std::array<std::string_view, 7> job_types = {
    "ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation"};

const std::regex iso_time_re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$)");

using clock = std::chrono::steady_clock;

std::string broker_url() {
    return required_env("JOBSD_TEST_AMQP_URL");
}

// A client on the test broker, or a failed test case that says which broker and how to start it.
std::unique_ptr<amqp_client> connect_broker() {
    const std::string url = broker_url();
    try {
        return std::make_unique<amqp_client>(url, 5s);
    } catch (const std::exception& e) {
        BOOST_FAIL("the test RabbitMQ node is not reachable at "
                   << jobsd::test::redact_amqp_url(url) << " (" << e.what()
                   << "); scripts/test.sh starts it "
                      "(scripts/rabbitmq.sh start var/test-rabbitmq 5682)");
    }
    return nullptr;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 100ms) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (clock::now() >= deadline) return false;
        std::this_thread::sleep_for(poll);
    }
}

// ---- scripts/rabbitmq.sh -----------------------------------------------------------------------

struct script_result {
    int status = -1;  // exit code, or -1 when it did not exit normally
    std::string output;
};

// Runs scripts/rabbitmq.sh with `args` and waits for it. posix_spawn rather than fork: the test
// may have client threads running. Output goes to a file so a chatty script never blocks.
script_result rabbitmq_script(const std::vector<std::string>& args) {
    const temp_dir scratch("jobsd-rmq-script");
    const std::string log = (scratch.path() / "out.log").string();
    std::vector<std::string> storage{"bash", required_env("JOBSD_RABBITMQ_SCRIPT")};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : storage) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, "bash", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn rabbitmq.sh");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid rabbitmq.sh");
    }
    script_result result;
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(log);
    std::ostringstream text;
    text << in.rdbuf();
    result.output = text.str();
    return result;
}

std::string node_dir() {
    return required_env("JOBSD_TEST_RABBITMQ_DIR");
}

script_result rabbitmqctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"ctl", node_dir()});
    return rabbitmq_script(args);
}

void require_ok(const script_result& r, std::string_view what) {
    BOOST_TEST_REQUIRE(r.status == 0, what << " failed (exit " << r.status << "):\n" << r.output);
}

// The `start` arguments that bring the node in DIR back as it was: its node.env has the ports.
std::vector<std::string> node_start_args() {
    std::ifstream in(std::filesystem::path(node_dir()) / "node.env");
    std::string amqp_port, http_port;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("AMQP_PORT=")) amqp_port = line.substr(10);
        if (line.starts_with("HTTP_PORT=")) http_port = line.substr(10);
    }
    if (amqp_port.empty()) {  // no node.env: take the port from the URL the tests use
        static const std::regex port_re(R"(:(\d+)/?$)");
        std::smatch m;
        const std::string url = broker_url();
        if (std::regex_search(url, m, port_re)) amqp_port = m[1];
    }
    std::vector<std::string> args{"start", node_dir(), amqp_port};
    if (!http_port.empty()) args.insert(args.end(), {"--management", http_port});
    return args;
}

// Brings a node this test stopped back up, even when the test fails half-way.
class node_restarter {
  public:
    explicit node_restarter(std::vector<std::string> start_args) : start_args_(std::move(start_args)) {}
    ~node_restarter() {
        if (!stopped_) return;
        const auto r = rabbitmq_script(start_args_);
        if (r.status != 0) BOOST_TEST_MESSAGE("could not restart the RabbitMQ node:\n" << r.output);
    }
    void stop() {
        stopped_ = true;
        require_ok(rabbitmq_script({"stop", node_dir()}), "rabbitmq.sh stop");
    }
    void start() {
        require_ok(rabbitmq_script(start_args_), "rabbitmq.sh start");
        stopped_ = false;
    }

  private:
    std::vector<std::string> start_args_;
    bool stopped_ = false;
};

// Runs `undo` (a rabbitmqctl call) at most once, at the latest on destruction, so a failing
// test never leaves the shared node blocked or with a policy in place.
class ctl_guard {
  public:
    explicit ctl_guard(std::vector<std::string> undo) : undo_(std::move(undo)) {}
    ~ctl_guard() {
        if (!done_) {
            const auto r = rabbitmqctl(undo_);
            if (r.status != 0)
                BOOST_TEST_MESSAGE("cleanup rabbitmqctl " << undo_.front() << " failed:\n" << r.output);
        }
    }
    void undo_now() {
        done_ = true;
        require_ok(rabbitmqctl(undo_), "rabbitmqctl " + undo_.front());
    }

  private:
    std::vector<std::string> undo_;
    bool done_ = false;
};

// ---- names, environment, the jobsd child -------------------------------------------------------

// Every exchange and queue of one test case, under a prefix unique to this process and case.
struct topology_names {
    explicit topology_names(std::string_view test_case)
        : prefix("it" + std::to_string(::getpid()) + "-" + std::string(test_case) + ".") {}
    std::string prefix;
    std::string exchange() const { return prefix + "jobs"; }
    std::string dead_exchange() const { return prefix + "dead"; }
    std::string events_exchange() const { return prefix + "events"; }
    std::string events_queue() const { return prefix + "jobsd.events"; }
    std::string queue(std::string_view type) const { return prefix + std::string(type); }
    std::string dead_queue(std::string_view type) const { return prefix + "dead." + std::string(type); }
};

// Deletes the case's queues and exchanges on destruction (best effort: a leftover is only
// clutter, and the broker may be down when a test fails).
class topology_cleanup {
  public:
    explicit topology_cleanup(const topology_names& names) : names_(names) {}
    ~topology_cleanup() {
        try {
            amqp_client broker(broker_url(), 5s);
            for (auto type : job_types) {
                broker.delete_queue(names_.queue(type));
                broker.delete_queue(names_.dead_queue(type));
            }
            broker.delete_queue(names_.events_queue());
            for (const auto& x : {names_.exchange(), names_.dead_exchange(), names_.events_exchange()})
                broker.delete_exchange(x);
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("cleanup of " << names_.prefix << "* failed: " << e.what());
        }
    }

  private:
    topology_names names_;
};

// Sets environment variables for the jobsd children started while it lives (they inherit the
// environment, which overrides the test config file), and removes them again.
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

scoped_env publishing_env(const topology_names& names,
                          std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> vars{
        {"JOBSD_AMQP_ENABLED", "true"},
        {"JOBSD_AMQP_URLS", broker_url()},
        {"JOBSD_AMQP_EXCHANGE", names.exchange()},
        {"JOBSD_AMQP_QUEUE_PREFIX", names.prefix},
        {"JOBSD_AMQP_DEAD_EXCHANGE", names.dead_exchange()},
        {"JOBSD_AMQP_DEAD_QUEUE_PREFIX", names.prefix + "dead."},
        {"JOBSD_AMQP_EVENTS_EXCHANGE", names.events_exchange()},
        {"JOBSD_AMQP_EVENTS_QUEUE", names.events_queue()},
        {"JOBSD_AMQP_RECONNECT_MAX_MS", "500"},
        {"JOBSD_AMQP_RETRY_DELAY_MS", "200"}};
    vars.insert(vars.end(), extra.begin(), extra.end());
    return scoped_env(std::move(vars));
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
        return guarded([&] {
            const auto res = client_.get("/metrics");
            if (res.status != 200)
                throw std::runtime_error("GET /metrics answered " + std::to_string(res.status));
            std::map<std::string, double> samples;
            std::istringstream lines(res.body);
            for (std::string line; std::getline(lines, line);) {
                if (line.empty() || line.front() == '#') continue;
                const auto space = line.rfind(' ');
                if (space == std::string::npos) continue;
                samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
            }
            return samples;
        });
    }

    // One metric; a missing one throws, so it can never read as zero.
    double metric(const std::string& name) {
        const auto samples = metrics();
        const auto it = samples.find(name);
        if (it == samples.end()) throw std::runtime_error("metric " + name + " is missing from /metrics");
        return it->second;
    }

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
        BOOST_TEST_REQUIRE(wait_until([&] { return broker_health() == "connected"; }, 30s),
                           "jobsd did not connect to the broker within 30 s; " << diagnosis());
    }

    void require_outbox_empty(std::chrono::seconds timeout) {
        BOOST_TEST_REQUIRE(wait_until([&] { return metric("jobsd_outbox_unpublished") == 0; }, timeout),
                           "outbox not empty after " << timeout.count() << " s: " << summary() << "\n"
                                                     << diagnosis());
    }

  private:
    static std::unique_ptr<jobsd_process> start(const temp_dir& dir) {
        const std::filesystem::path data = required_env("JOBSD_TEST_DATA");
        return std::make_unique<jobsd_process>(
            required_env("JOBSD_BIN"),
            std::vector<std::string>{"--config", (data / "jobsd_test.json").string(), "--port", "0",
                                     "--store", "sqlite:" + (dir.path() / "jobs.db").string(), "--seed",
                                     (data / "seed_test.json").string()},
            dir.path());
    }

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

struct delivery_report {
    std::vector<std::string> missing;     // answered 201, never delivered
    std::vector<std::string> duplicated;  // delivered more than once (allowed: at least once)
    std::vector<std::string> unexpected;  // delivered, never answered 201 in this case
};

delivery_report compare(const std::vector<std::string>& accepted, const std::vector<received>& got) {
    std::map<std::string, int> seen;
    for (const auto& m : got) ++seen[m.message_id];
    const std::set<std::string> expected(accepted.begin(), accepted.end());
    delivery_report r;
    for (const auto& uuid : expected)
        if (!seen.count(uuid)) r.missing.push_back(uuid);
    for (const auto& [id, n] : seen) {
        if (n > 1) r.duplicated.push_back(id + " x" + std::to_string(n));
        if (!expected.count(id)) r.unexpected.push_back(id);
    }
    return r;
}

std::string first_few(const std::vector<std::string>& v, std::size_t n = 10) {
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < n; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > n) out += ", …";
    return out;
}

// Every delivered job answered 201 reached the broker; duplicates are reported, not failed.
void expect_all_delivered(const std::vector<std::string>& accepted, const std::vector<received>& got) {
    const auto r = compare(accepted, got);
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
        const std::set<std::string> contract{"uuid",       "job_type", "account_id", "source_id",
                                             "session_id", "version",  "input",      "created_at"};
        BOOST_TEST((keys == contract), "body keys differ from the contract: " << m.body);
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
    auto broker = connect_broker();
    const topology_names names("contract");
    topology_cleanup cleanup(names);
    const auto env = publishing_env(names);
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
    const auto report = compare(accepted, got);
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
    connect_broker();  // only to fail early and clearly: the node is about to go away
    const topology_names names("restart");
    topology_cleanup cleanup(names);
    node_restarter node(node_start_args());
    const auto env = publishing_env(names);
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
    BOOST_TEST(wait_until([&] { return server.broker_health() == "down"; }, 30s),
               "/healthz does not say the broker is down: " << server.broker_health());
    const std::size_t at_down = accepted_count;
    std::this_thread::sleep_for(3s);
    const std::size_t during_outage = accepted_count - at_down;
    BOOST_TEST(during_outage > 0u, "no job was accepted while the broker was down");
    BOOST_TEST(server.metric("jobsd_outbox_unpublished") > 0);
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
    BOOST_TEST(wait_until([&] { return server.broker_health() == "connected"; }, 30s),
               "jobsd did not reconnect within 30 s of the node's start; " << server.summary());
    BOOST_TEST(wait_until([&] { return server.readiness().first == 200; }, 10s),
               "/readyz did not turn ready again: " << server.readiness().second);
    std::this_thread::sleep_for(3s);
    stop_posting = true;
    for (auto& th : posters) th.join();

    server.require_outbox_empty(90s);
    BOOST_TEST(server.metric("jobsd_amqp_reconnects_total") >= 1);
    BOOST_TEST(first_failure().empty(), failures.size() << " posts failed, first: " << first_failure());
    BOOST_TEST_MESSAGE(accepted.size() << " accepted, " << during_outage
                                       << " of them in 3 s while the node was down; " << server.summary());
    auto broker = connect_broker();
    expect_all_delivered(accepted, drain_all(*broker, names, 2s));
}

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(kill9_with_unconfirmed_messages_relays_on_restart) {
    auto broker = connect_broker();
    const topology_names names("kill9");
    topology_cleanup cleanup(names);
    const auto env = publishing_env(names);
    temp_dir dir("jobsd-it-kill9");
    std::vector<std::string> accepted;
    {
        jobsd_child server(dir);
        server.require_connected();

        // A memory alarm makes the broker stop reading from publishing connections: what jobsd
        // sent before connection.blocked is neither enqueued nor confirmed, and after it jobsd
        // sends nothing more (the jobs wait in the outbox).
        ctl_guard alarm({"set_vm_memory_high_watermark", "0.4"});
        require_ok(rabbitmqctl({"set_vm_memory_high_watermark", "0"}), "set_vm_memory_high_watermark 0");
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
        alarm.undo_now();
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
    auto broker = connect_broker();
    const topology_names names("nack");
    topology_cleanup cleanup(names);
    const auto env = publishing_env(names, {{"JOBSD_AMQP_QUEUE_TYPE", "classic"}});
    temp_dir dir("jobsd-it-nack");
    jobsd_child server(dir);
    server.require_connected();

    const std::string policy = names.prefix + "reject";
    std::string pattern = "^" + names.prefix;
    pattern.insert(pattern.size() - 1, "\\");  // the prefix ends in '.'; match it literally
    ctl_guard clear({"clear_policy", policy});
    require_ok(rabbitmqctl({"set_policy", "--apply-to", "queues", policy, pattern,
                            R"({"max-length":0,"overflow":"reject-publish"})"}),
               "set_policy");
    // Policies reach the queues asynchronously; post only once the job queue has it.
    BOOST_TEST_REQUIRE(wait_until(
                           [&] {
                               const auto r = rabbitmqctl({"-q", "list_queues", "name", "policy"});
                               return r.output.find(names.queue("video") + "\t" + policy) !=
                                      std::string::npos;
                           },
                           15s, 200ms),
                       "policy " << policy << " did not reach " << names.queue("video"));

    std::vector<std::string> accepted;
    for (int i = 0; i < 5; ++i) accepted.push_back(server.post("video", i).uuid);
    // Nacked, retried after the retry delay, nacked again: still in the outbox meanwhile.
    BOOST_TEST_REQUIRE(wait_until([&] { return server.metric("jobsd_amqp_nacked_total") >= 10; }, 20s),
                       "no repeated nacks: " << server.summary() << "\n"
                                             << server.diagnosis());
    BOOST_TEST(server.metric("jobsd_outbox_unpublished") == 5, server.summary());
    BOOST_TEST(server.metric("jobsd_amqp_confirmed_total") == 0, server.summary());
    BOOST_TEST_MESSAGE("while rejecting: " << server.summary());
    clear.undo_now();

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
    auto broker = connect_broker();
    const topology_names names("sweep");
    topology_cleanup cleanup(names);
    const auto env = publishing_env(names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "100"}});
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
    const auto report = compare(accepted, got);
    BOOST_TEST_MESSAGE(accepted.size() << " accepted, " << got.size() << " delivered, republished "
                                       << server.metric("jobsd_amqp_republished_total"));
    BOOST_TEST(accepted.size() > 100u);
    BOOST_TEST(report.missing.empty(), "never delivered: " << first_few(report.missing));
    BOOST_TEST(report.duplicated.empty(), "sent twice: " << first_few(report.duplicated));
}

// SIGTERM under load: jobsd stops accepting, answers what it has read (requests read after the
// signal get 503, never a reset mid-commit), flushes the group commit and the confirms it can,
// and exits 0. Every job answered 201 is stored, and published after the restart at the latest.
BOOST_AUTO_TEST_CASE(sigterm_under_load_keeps_every_accepted_job) {
    auto broker = connect_broker();
    const topology_names names("sigterm");
    topology_cleanup cleanup(names);
    const auto env = publishing_env(names);
    temp_dir dir("jobsd-it-sigterm");
    std::mutex mu;
    std::vector<std::string> accepted;
    std::map<int, int> other_statuses;
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
                            "/jobs/v2", "key-a-5d1c8e7f2b9a4c6e",
                            json::serialize(
                                job_body(job_types[static_cast<std::size_t>(n + t) % job_types.size()], n)));
                        std::lock_guard lock(mu);
                        if (res.status == 201)
                            accepted.push_back(std::string(res.json().at("job").at("uuid").as_string()));
                        else
                            ++other_statuses[res.status];
                    } catch (const std::exception&) {
                        std::this_thread::sleep_for(20ms);  // refused or closed: the server is going away
                    }
                }
            });
        std::this_thread::sleep_for(1500ms);
        const auto ended = server.process().stop(20s);
        stop = true;
        for (auto& p : posters) p.join();
        BOOST_TEST(ended.exited);
        BOOST_TEST(ended.code == 0);
        BOOST_TEST(!ended.forced, "jobsd did not exit within the grace period after SIGTERM");
    }
    for (const auto& [status, n] : other_statuses) {
        BOOST_TEST_MESSAGE(n << " answers with status " << status);
        BOOST_TEST(status == 503, "an answer other than 201 or 503 during shutdown: " << status);
    }
    BOOST_TEST_REQUIRE(accepted.size() > 100u);

    jobsd_child again(dir);
    again.require_outbox_empty(60s);
    expect_all_delivered(accepted, drain_all(*broker, names, 2s));
}

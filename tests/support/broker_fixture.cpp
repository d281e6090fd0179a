// Scripts run through run_command (bounded, output to a file under the temp directory); jobsd
// children through jobsd_process; JSON bodies as the seed's account A may send them.
#include "tests/support/broker_fixture.hpp"

#include <unistd.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace jobsd::test {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// From tests/data/seed_test.json: account A's always-active project and its image prompt.
constexpr std::string_view project_a1 = "468ea7a0-66e1-4357-a760-236e54167f3e";
constexpr std::string_view prompt_a = "f12f3401-0fd6-4a30-82d1-b85a8db70e5b";

std::filesystem::path script_log() {
    return std::filesystem::temp_directory_path() /
           ("jobsd-rabbitmq-script-" + std::to_string(::getpid()) + ".log");
}

}  // namespace

const std::vector<std::string> all_job_type_names = {
    "ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation"};

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(poll);
    }
}

std::string test_broker_url() {
    return required_env("JOBSD_TEST_AMQP_URL");
}

std::unique_ptr<amqp_client> connect_test_broker() {
    const std::string url = test_broker_url();
    try {
        return std::make_unique<amqp_client>(url, 5s);
    } catch (const std::exception& e) {
        throw std::runtime_error("the test RabbitMQ node is not reachable at " + redact_amqp_url(url) + " (" +
                                 e.what() + "); scripts/test.sh starts it");
    }
}

command_result rabbitmq_script(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    std::vector<std::string> argv{"bash", required_env("JOBSD_RABBITMQ_SCRIPT")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, script_log(), timeout);
}

command_result rabbitmqctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"ctl", required_env("JOBSD_TEST_RABBITMQ_DIR")});
    return rabbitmq_script(args, 60s);
}

void require_ok(const command_result& r, const std::string& what) {
    if (r.timed_out || r.exit_code != 0)
        throw std::runtime_error(what + (r.timed_out ? " timed out" : " failed") + ":\n" + r.output);
}

broker_node::broker_node() {
    const std::string dir = required_env("JOBSD_TEST_RABBITMQ_DIR");
    std::ifstream in(std::filesystem::path(dir) / "node.env");
    std::string amqp_port, http_port;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("AMQP_PORT=")) amqp_port = line.substr(10);
        if (line.starts_with("HTTP_PORT=")) http_port = line.substr(10);
    }
    if (amqp_port.empty()) {
        std::smatch m;
        const std::string url = test_broker_url();
        if (std::regex_search(url, m, std::regex(R"(:(\d+)/?$)"))) amqp_port = m[1];
    }
    start_args_ = {"start", dir, amqp_port};
    if (!http_port.empty()) start_args_.insert(start_args_.end(), {"--management", http_port});
}

broker_node::~broker_node() {
    if (stopped_) rabbitmq_script(start_args_);
}

void broker_node::stop() {
    stopped_ = true;
    require_ok(rabbitmq_script({"stop", required_env("JOBSD_TEST_RABBITMQ_DIR")}), "rabbitmq.sh stop");
}

void broker_node::start() {
    require_ok(rabbitmq_script(start_args_), "rabbitmq.sh start");
    stopped_ = false;
}

memory_alarm::~memory_alarm() {
    if (raised_) rabbitmqctl({"set_vm_memory_high_watermark", "0.4"});
}

void memory_alarm::raise() {
    raised_ = true;
    require_ok(rabbitmqctl({"set_vm_memory_high_watermark", "0"}), "set_vm_memory_high_watermark 0");
}

void memory_alarm::clear() {
    require_ok(rabbitmqctl({"set_vm_memory_high_watermark", "0.4"}), "set_vm_memory_high_watermark 0.4");
    raised_ = false;
}

topology_names::topology_names(std::string_view test_case)
    : prefix("rl" + std::to_string(::getpid()) + "-" + std::string(test_case) + ".") {}

env_list topology_names::jobsd_env(env_list extra) const {
    env_list vars{{"JOBSD_AMQP_ENABLED", "true"},
                  {"JOBSD_AMQP_URLS", test_broker_url()},
                  {"JOBSD_AMQP_EXCHANGE", exchange()},
                  {"JOBSD_AMQP_QUEUE_PREFIX", prefix},
                  {"JOBSD_AMQP_DEAD_EXCHANGE", dead_exchange()},
                  {"JOBSD_AMQP_DEAD_QUEUE_PREFIX", prefix + "dead."},
                  {"JOBSD_AMQP_EVENTS_EXCHANGE", events_exchange()},
                  {"JOBSD_AMQP_EVENTS_QUEUE", events_queue()},
                  {"JOBSD_AMQP_RECONNECT_MAX_MS", "500"},
                  {"JOBSD_AMQP_RETRY_DELAY_MS", "200"}};
    vars.insert(vars.end(), extra.begin(), extra.end());
    return vars;
}

std::vector<std::string> topology_names::worker_flags() const {
    return {"--url",           test_broker_url(),   "--exchange",
            exchange(),        "--queue-prefix",    prefix,
            "--dead-exchange", dead_exchange(),     "--dead-queue-prefix",
            prefix + "dead.",  "--events-exchange", events_exchange(),
            "--events-queue",  events_queue()};
}

topology_cleanup::~topology_cleanup() {
    try {
        amqp_client broker(test_broker_url(), 5s);
        for (const auto& type : all_job_type_names) {
            broker.delete_queue(names_.queue(type));
            broker.delete_queue(names_.dead_queue(type));
        }
        broker.delete_queue(names_.events_queue());
        for (const auto& x : {names_.exchange(), names_.dead_exchange(), names_.events_exchange()})
            broker.delete_exchange(x);
    } catch (const std::exception&) {
        // A leftover is only clutter, and the broker may be down when a test fails.
    }
}

scoped_env::scoped_env(env_list vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
}

scoped_env::~scoped_env() {
    for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
}

std::string job_request(std::string_view type, int n) {
    const std::string tag = std::string(type) + "-" + std::to_string(n);
    if (type == "ai_image_generation")
        return json::serialize(json::object{{"job_type", type},
                                            {"project_id", prompt_a},
                                            {"session_id", "sess-" + tag},
                                            {"values", json::object{{"product", "Sneaker " + tag}}}});
    return json::serialize(json::object{{"job_type", type},
                                        {"template_id", project_a1},
                                        {"version", 2},
                                        {"session_id", "sess-" + tag},
                                        {"values", json::object{{"headline", "Headline " + tag}}}});
}

std::map<std::string, double> parse_metrics(const std::string& text) {
    std::map<std::string, double> samples;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.front() == '#') continue;
        const auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
}

namespace {

std::unique_ptr<jobsd_process> start_jobsd(const temp_dir& dir, std::string store_url, unsigned short port) {
    const std::filesystem::path data = required_env("JOBSD_TEST_DATA");
    if (store_url.empty()) store_url = "sqlite:" + (dir.path() / "jobs.db").string();
    return std::make_unique<jobsd_process>(
        required_env("JOBSD_BIN"),
        std::vector<std::string>{"--config", (data / "jobsd_test.json").string(), "--port",
                                 std::to_string(port), "--store", store_url, "--seed",
                                 (data / "seed_test.json").string()},
        dir.path());
}

}  // namespace

jobsd_node::jobsd_node(const temp_dir& dir, std::string store_url, unsigned short port)
    : process_(start_jobsd(dir, std::move(store_url), port)), client_("127.0.0.1", process_->port(), 10s) {}

std::map<std::string, double> jobsd_node::metrics() {
    const auto res = client_.get("/metrics");
    if (res.status != 200) throw std::runtime_error("GET /metrics answered " + std::to_string(res.status));
    return parse_metrics(res.body);
}

double jobsd_node::metric(const std::string& name) {
    const auto samples = metrics();
    const auto it = samples.find(name);
    if (it == samples.end()) throw std::runtime_error("metric " + name + " is missing from /metrics");
    return it->second;
}

std::string jobsd_node::summary() {
    std::ostringstream out;
    for (const auto& [name, value] : metrics())
        if (name.starts_with("jobsd_outbox") || name.starts_with("jobsd_amqp"))
            out << name << "=" << value << " ";
    return out.str();
}

json::value jobsd_node::health() {
    return client_.get("/healthz").json();
}

std::pair<unsigned, std::string> jobsd_node::readiness() {
    const auto res = client_.get("/readyz");
    return {res.status, res.body};
}

std::optional<std::string> jobsd_node::post(std::string_view type, int n, std::string* failure) {
    const auto res = client_.post("/jobs/v2", test_key, job_request(type, n));
    if (res.status == 201) return std::string(res.json().at("job").at("uuid").as_string());
    if (failure)
        *failure = "POST " + std::string(type) + " answered " + std::to_string(res.status) + ": " + res.body;
    return std::nullopt;
}

std::string jobsd_node::post_ok(std::string_view type, int n) {
    std::string failure;
    auto uuid = post(type, n, &failure);
    if (!uuid) throw std::runtime_error(failure + "\n" + process_->diagnosis());
    return *uuid;
}

std::vector<received> drain_job_queues(amqp_client& broker, const topology_names& names,
                                       std::chrono::milliseconds idle) {
    std::vector<received> all;
    for (const auto& type : all_job_type_names) {
        const auto q = names.queue(type);
        if (!broker.message_count(q)) continue;
        auto got = broker.drain(q, idle);
        all.insert(all.end(), got.begin(), got.end());
    }
    return all;
}

delivery_report compare_deliveries(const std::vector<std::string>& accepted,
                                   const std::vector<received>& got) {
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

std::string first_few(const std::vector<std::string>& v, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < n; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > n) out += ", …";
    return out;
}

}  // namespace jobsd::test

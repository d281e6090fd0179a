// Node changes through test_broker.hpp's rabbitmqctl; jobsd children through jobsd_process; JSON
// bodies as the seed's account A may send them.
#include "tests/support/broker_fixture.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>

namespace jobsd::test {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::vector<std::string> all_job_type_names = {
    "ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation"};

void require_ok(const command_result& r, const std::string& what) {
    if (r.timed_out || r.exit_code != 0)
        throw std::runtime_error(what + (r.timed_out ? " timed out" : " failed") + ":\n" + r.output);
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

env_list jobsd_env(const topology_names& names, env_list extra) {
    env_list quick{{"JOBSD_AMQP_RECONNECT_MAX_MS", "500"}, {"JOBSD_AMQP_RETRY_DELAY_MS", "200"}};
    quick.insert(quick.end(), extra.begin(), extra.end());
    return publishing_env(names, std::move(quick));
}

std::vector<std::string> worker_flags(const topology_names& names) {
    auto flags = worker_args(names, "");
    flags.erase(flags.begin(), flags.begin() + 2);  // "--type" and its value: the caller's
    return flags;
}

std::string job_request(std::string_view type, int n) {
    const std::string tag = std::string(type) + "-" + std::to_string(n);
    if (type == "ai_image_generation")
        return json::serialize(json::object{{"job_type", type},
                                            {"project_id", seed::prompt_a},
                                            {"session_id", "sess-" + tag},
                                            {"values", json::object{{"product", "Sneaker " + tag}}}});
    return json::serialize(json::object{{"job_type", type},
                                        {"template_id", seed::project_a1},
                                        {"version", 2},
                                        {"session_id", "sess-" + tag},
                                        {"values", json::object{{"headline", "Headline " + tag}}}});
}

namespace {

std::unique_ptr<jobsd_process> start_node(const temp_dir& dir, std::string store_url, unsigned short port) {
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
    : process_(start_node(dir, std::move(store_url), port)), client_("127.0.0.1", process_->port(), 10s) {}

http_client& jobsd_node::client() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_request_ > 30s) client_.close();
    last_request_ = now;
    return client_;
}

std::map<std::string, double> jobsd_node::metrics() {
    const auto res = client().get("/metrics");
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
    return client().get("/healthz").json();
}

std::pair<unsigned, std::string> jobsd_node::readiness() {
    const auto res = client().get("/readyz");
    return {res.status, res.body};
}

std::optional<std::string> jobsd_node::post(std::string_view type, int n, std::string* failure) {
    const auto res = client().post("/jobs/v2", test_key, job_request(type, n));
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

}  // namespace jobsd::test

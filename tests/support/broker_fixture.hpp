// Helpers of the black-box suites that run jobsd against the shared test RabbitMQ node (and the
// test PostgreSQL cluster): the node's control script, exchange and queue names of one test case,
// a jobsd child publishing under them, its metrics and health, and what reached the queues.
// Thread safety: free functions may be called from any thread; each object belongs to one
// thread unless it says otherwise.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/amqp_client.hpp"
#include "tests/support/command_runner.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"

namespace jobsd::test {

using env_list = std::vector<std::pair<std::string, std::string>>;

// Polls `done` until it holds or `timeout` passes; true when it held.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(100));

// The test node's URL (JOBSD_TEST_AMQP_URL), and a client on it; a node that cannot be reached
// throws, naming the node and how scripts/test.sh starts it.
std::string test_broker_url();
std::unique_ptr<amqp_client> connect_test_broker();

// scripts/rabbitmq.sh (JOBSD_RABBITMQ_SCRIPT) on the test node's directory (JOBSD_TEST_RABBITMQ_DIR).
command_result rabbitmq_script(const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout = std::chrono::seconds(180));
command_result rabbitmqctl(std::vector<std::string> args);
// Throws std::runtime_error with the output when the command failed.
void require_ok(const command_result& r, const std::string& what);

// Stops and starts the test node; starts it again on destruction when the test left it stopped.
class broker_node {
  public:
    broker_node();
    ~broker_node();
    void stop();
    void start();

  private:
    std::vector<std::string> start_args_;
    bool stopped_ = false;
};

// Raises the node's memory alarm (vm_memory_high_watermark 0: it stops reading from publishers);
// clears it (0.4, the default) at the latest on destruction.
class memory_alarm {
  public:
    memory_alarm() = default;
    ~memory_alarm();
    void raise();
    void clear();

  private:
    bool raised_ = false;
};

// Every exchange and queue of one test case, under a prefix unique to this process and case.
struct topology_names {
    explicit topology_names(std::string_view test_case);
    std::string prefix;
    std::string exchange() const { return prefix + "jobs"; }
    std::string dead_exchange() const { return prefix + "dead"; }
    std::string events_exchange() const { return prefix + "events"; }
    std::string events_queue() const { return prefix + "jobsd.events"; }
    std::string queue(std::string_view type) const { return prefix + std::string(type); }
    std::string dead_queue(std::string_view type) const { return prefix + "dead." + std::string(type); }
    // jobsd's environment for these names (publishing on, quick reconnects), plus `extra`.
    env_list jobsd_env(env_list extra = {}) const;
    // jobs-worker's flags for these names.
    std::vector<std::string> worker_flags() const;
};

// Deletes a case's queues and exchanges on destruction (best effort).
class topology_cleanup {
  public:
    explicit topology_cleanup(topology_names names) : names_(std::move(names)) {}
    ~topology_cleanup();

  private:
    topology_names names_;
};

// Sets environment variables for the children started while it lives, then removes them.
class scoped_env {
  public:
    explicit scoped_env(env_list vars);
    ~scoped_env();
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    env_list vars_;
};

inline constexpr std::string_view test_key = "key-a-5d1c8e7f2b9a4c6e";  // tests/data/seed_test.json
extern const std::vector<std::string> all_job_type_names;

// A valid create request of `type` for the test seed's account A; `n` makes bodies distinct.
std::string job_request(std::string_view type, int n);

// Samples of Prometheus text by their full name (labels included).
std::map<std::string, double> parse_metrics(const std::string& text);

// jobsd on tests/data/jobsd_test.json and the test seed, storing in `store_url` (SQLite in
// `dir` by default), with `port` (0: any); configured further through the environment.
class jobsd_node {
  public:
    jobsd_node(const temp_dir& dir, std::string store_url = {}, unsigned short port = 0);

    jobsd_process& process() { return *process_; }
    unsigned short port() const { return process_->port(); }
    std::string diagnosis() { return process_->diagnosis(); }

    std::map<std::string, double> metrics();
    // One sample; a missing one throws, so it never reads as zero.
    double metric(const std::string& name);
    // The outbox and publisher samples on one line, for messages.
    std::string summary();
    // GET /healthz's body, and GET /readyz's status and body.
    boost::json::value health();
    std::pair<unsigned, std::string> readiness();
    // POST /jobs/v2: the job's uuid on 201, else nullopt with the status and body in `failure`.
    std::optional<std::string> post(std::string_view type, int n, std::string* failure = nullptr);
    // As post(), failing the test case unless the answer is 201.
    std::string post_ok(std::string_view type, int n);

  private:
    std::unique_ptr<jobsd_process> process_;
    http_client client_;
};

// Drains every job queue of `names` that exists, acking what it reads.
std::vector<received> drain_job_queues(amqp_client& broker, const topology_names& names,
                                       std::chrono::milliseconds idle = std::chrono::milliseconds(750));

struct delivery_report {
    std::vector<std::string> missing;     // accepted, never delivered
    std::vector<std::string> duplicated;  // delivered more than once (at-least-once allows it)
    std::vector<std::string> unexpected;  // delivered, never accepted
};
delivery_report compare_deliveries(const std::vector<std::string>& accepted,
                                   const std::vector<received>& got);
std::string first_few(const std::vector<std::string>& v, std::size_t n = 10);

}  // namespace jobsd::test

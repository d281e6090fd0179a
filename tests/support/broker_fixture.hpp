// Helpers of the black-box reliability suites on the shared test RabbitMQ node (and the test
// PostgreSQL cluster), over test_broker.hpp: a jobsd child publishing under a case's names, its
// metrics and health, the memory alarm, and what reached the queues.
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
#include "tests/support/deliveries.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/scoped_env.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

namespace jobsd::test {

// Throws std::runtime_error with the output when the command (run_command) failed.
void require_ok(const command_result& r, const std::string& what);

// Stops and starts the test node; starts it again on destruction when the test left it stopped.
using broker_node = node_restarter;

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

// jobsd's environment for `names` (publishing on, quick reconnects), plus `extra`.
env_list jobsd_env(const topology_names& names, env_list extra = {});
// jobs-worker's flags for `names`, without --type.
std::vector<std::string> worker_flags(const topology_names& names);

inline constexpr std::string_view test_key = seed::key_a;
extern const std::vector<std::string> all_job_type_names;

// A valid create request of `type` for the test seed's account A; `n` makes bodies distinct.
std::string job_request(std::string_view type, int n);

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
    // The client, its connection closed first when it sat idle for long: jobsd closes a kept-alive
    // connection after its idle timeout (60 s), and a test that spends longer elsewhere (draining
    // a queue of tens of thousands) would otherwise find it gone.
    http_client& client();

    std::unique_ptr<jobsd_process> process_;
    http_client client_;
    std::chrono::steady_clock::time_point last_request_{};
};

// Drains every job queue of `names` that exists, acking what it reads.
std::vector<received> drain_job_queues(amqp_client& broker, const topology_names& names,
                                       std::chrono::milliseconds idle = std::chrono::milliseconds(750));

}  // namespace jobsd::test

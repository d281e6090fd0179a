// The shared test RabbitMQ node (scripts/test.sh starts it; $JOBSD_TEST_AMQP_URL): the names a
// test case gives jobsd and jobs-worker on it, the environment and flags that select them, their
// cleanup, and rabbitmqctl changes to the node that are always undone.
//
// Thread safety: none; use from the test's main thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/amqp_client.hpp"
#include "tests/support/scoped_env.hpp"

namespace jobsd::test {

// $JOBSD_TEST_AMQP_URL.
std::string test_broker_url();

// A client on the test broker; throws std::runtime_error saying which broker is missing and how
// to start it.
std::unique_ptr<amqp_client> connect_test_broker();

// Whose control exchange and queues (cancel messages) a case's jobsd and workers use.
enum class control_names {
    shared,  // jobsd's and jobs-worker's defaults (jobs.control), as every case that never cancels
    own,     // the case's, under its prefix: a cancel reaches only this case's workers
};

// Every exchange and queue of one test case, under a prefix unique to this process and case.
struct topology_names {
    explicit topology_names(std::string_view tag, control_names control = control_names::shared);
    std::string prefix;  // "<tag><pid>-<n>."
    control_names control;
    std::string exchange() const { return prefix + "jobs"; }
    std::string dead_exchange() const { return prefix + "dead"; }
    std::string events_exchange() const { return prefix + "events"; }
    std::string events_queue() const { return prefix + "jobsd.events"; }
    std::string status_exchange() const { return prefix + "status"; }
    std::string queue(std::string_view type) const { return prefix + std::string(type); }
    std::string dead_queue(std::string_view type) const { return prefix + "dead." + std::string(type); }
    // Used only with control_names::own.
    std::string control_exchange() const { return prefix + "control"; }
    std::string control_queue_prefix() const { return prefix + "control."; }
};

// JOBSD_AMQP_* variables that make a jobsd publish to the test broker under `names`, plus `extra`.
env_list publishing_env(const topology_names& names, env_list extra = {});

// jobs-worker flags for `type` on the test broker under `names`: its routing arguments.
std::vector<std::string> worker_args(const topology_names& names, std::string_view type);

// Deletes what `names` may have declared; best effort (the broker may be down after a failure):
// problems are written to stderr, never thrown.
void delete_topology(const topology_names& names) noexcept;

// Deletes the case's topology on destruction.
class topology_cleanup {
  public:
    explicit topology_cleanup(topology_names names) : names_(std::move(names)) {}
    ~topology_cleanup() { delete_topology(names_); }
    topology_cleanup(const topology_cleanup&) = delete;
    topology_cleanup& operator=(const topology_cleanup&) = delete;

  private:
    topology_names names_;
};

// The outcome of one of the project's scripts.
struct script_result {
    int status = -1;  // exit code, or -1 when it did not exit normally
    std::string output;
};

// `bash SCRIPT args…`, waited for; stdout and stderr go to a file, so a chatty script never blocks.
// posix_spawn rather than fork: the test may have client threads running.
script_result run_script(const std::string& script, const std::vector<std::string>& args);

// scripts/rabbitmq.sh ($JOBSD_RABBITMQ_SCRIPT) `ctl` on the test node ($JOBSD_TEST_RABBITMQ_DIR).
script_result rabbitmqctl(std::vector<std::string> args);

// Throws std::runtime_error with the output when `r` failed.
void require_ok(const script_result& r, std::string_view what);

// A rabbitmqctl change to the shared node (a memory alarm, a policy), undone at the latest on
// destruction, so a failing test never leaves the node altered.
class node_change {
  public:
    node_change(std::vector<std::string> apply, std::vector<std::string> undo);  // throws if apply fails
    ~node_change();                                                              // undoes unless done
    node_change(const node_change&) = delete;
    node_change& operator=(const node_change&) = delete;
    void undo();  // now; throws if it fails

  private:
    std::vector<std::string> undo_;
    bool done_ = false;
};

// A policy on the queues matching `queue_regex`, e.g. {"max-length":0,"overflow":"reject-publish"};
// returns once rabbitmqctl lists it on `queue` (policies reach queues asynchronously).
std::unique_ptr<node_change> apply_queue_policy(const std::string& name, const std::string& queue_regex,
                                                const std::string& definition, const std::string& queue);

// Stops the test node and brings it back as it was (its node.env has the ports), even when a test
// fails half-way.
class node_restarter {
  public:
    node_restarter();
    ~node_restarter();
    node_restarter(const node_restarter&) = delete;
    node_restarter& operator=(const node_restarter&) = delete;
    void stop();   // throws if it fails
    void start();  // throws if it fails

  private:
    std::vector<std::string> start_args_;
    bool stopped_ = false;
};

// `text` with every regex metacharacter escaped, for a policy pattern.
std::string regex_escape(std::string_view text);

}  // namespace jobsd::test

// Names carry the pid and a per-process counter, so parallel runs and the cases of one run never
// share a queue; cleanup deletes every name a jobsd or worker may have declared.
#include "tests/support/test_broker.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "tests/support/jobsd_process.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/wait.hpp"

extern char** environ;

namespace jobsd::test {

std::string test_broker_url() {
    return required_env("JOBSD_TEST_AMQP_URL");
}

std::unique_ptr<amqp_client> connect_test_broker() {
    const std::string url = test_broker_url();
    try {
        return std::make_unique<amqp_client>(url, std::chrono::seconds(5));
    } catch (const std::exception& e) {
        throw std::runtime_error("the test RabbitMQ node is not reachable at " + redact_amqp_url(url) + " (" +
                                 e.what() + "); scripts/test.sh starts it");
    }
}

topology_names::topology_names(std::string_view tag, control_names c) : control(c) {
    static std::atomic<int> n{0};
    prefix = std::string(tag) + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".";
}

env_list publishing_env(const topology_names& names, env_list extra) {
    env_list vars{{"JOBSD_AMQP_ENABLED", "true"},
                  {"JOBSD_AMQP_URLS", test_broker_url()},
                  {"JOBSD_AMQP_EXCHANGE", names.exchange()},
                  {"JOBSD_AMQP_QUEUE_PREFIX", names.prefix},
                  {"JOBSD_AMQP_DEAD_EXCHANGE", names.dead_exchange()},
                  {"JOBSD_AMQP_DEAD_QUEUE_PREFIX", names.prefix + "dead."},
                  {"JOBSD_AMQP_EVENTS_EXCHANGE", names.events_exchange()},
                  {"JOBSD_AMQP_EVENTS_QUEUE", names.events_queue()},
                  {"JOBSD_AMQP_STATUS_EXCHANGE", names.status_exchange()}};
    if (names.control == control_names::own)
        vars.insert(vars.end(), {{"JOBSD_AMQP_CONTROL_EXCHANGE", names.control_exchange()},
                                 {"JOBSD_AMQP_CONTROL_QUEUE_PREFIX", names.control_queue_prefix()}});
    vars.insert(vars.end(), extra.begin(), extra.end());
    return vars;
}

std::vector<std::string> worker_args(const topology_names& names, std::string_view type) {
    std::vector<std::string> args{"--type",
                                  std::string(type),
                                  "--url",
                                  test_broker_url(),
                                  "--exchange",
                                  names.exchange(),
                                  "--queue-prefix",
                                  names.prefix,
                                  "--dead-exchange",
                                  names.dead_exchange(),
                                  "--dead-queue-prefix",
                                  names.prefix + "dead.",
                                  "--events-exchange",
                                  names.events_exchange(),
                                  "--events-queue",
                                  names.events_queue()};
    if (names.control == control_names::own)
        args.insert(args.end(), {"--control-exchange", names.control_exchange(), "--control-queue-prefix",
                                 names.control_queue_prefix()});
    return args;
}

void delete_topology(const topology_names& names) noexcept {
    try {
        amqp_client broker(test_broker_url(), std::chrono::seconds(5));
        for (auto type : seed::job_types) {
            broker.delete_queue(names.queue(type));
            broker.delete_queue(names.dead_queue(type));
            if (names.control == control_names::own)
                broker.delete_queue(names.control_queue_prefix() + std::string(type));
        }
        broker.delete_queue(names.events_queue());
        for (const auto& x :
             {names.exchange(), names.dead_exchange(), names.events_exchange(), names.status_exchange()})
            broker.delete_exchange(x);
        if (names.control == control_names::own) broker.delete_exchange(names.control_exchange());
    } catch (const std::exception& e) {
        std::cerr << "cleanup of " << names.prefix << "* on the test broker failed: " << e.what() << "\n";
    }
}

script_result run_script(const std::string& script, const std::vector<std::string>& args) {
    const temp_dir scratch("jobsd-script");
    const std::string log = (scratch.path() / "out.log").string();
    std::vector<std::string> storage{"bash", script};
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
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn " + script);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid " + script);
    }
    script_result result;
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(log);
    std::ostringstream text;
    text << in.rdbuf();
    result.output = text.str();
    return result;
}

namespace {

std::string node_dir() {
    return required_env("JOBSD_TEST_RABBITMQ_DIR");
}

script_result rabbitmq_script(const std::vector<std::string>& args) {
    return run_script(required_env("JOBSD_RABBITMQ_SCRIPT"), args);
}

}  // namespace

script_result rabbitmqctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"ctl", node_dir()});
    return rabbitmq_script(args);
}

void require_ok(const script_result& r, std::string_view what) {
    if (r.status != 0)
        throw std::runtime_error(std::string(what) + " failed (exit " + std::to_string(r.status) + "):\n" +
                                 r.output);
}

node_change::node_change(std::vector<std::string> apply, std::vector<std::string> undo)
    : undo_(std::move(undo)) {
    const auto what = "rabbitmqctl " + apply.front();
    require_ok(rabbitmqctl(std::move(apply)), what);
}

node_change::~node_change() {
    if (done_) return;
    const auto r = rabbitmqctl(undo_);
    if (r.status != 0) std::cerr << "cleanup rabbitmqctl " << undo_.front() << " failed:\n" << r.output;
}

void node_change::undo() {
    done_ = true;
    require_ok(rabbitmqctl(undo_), "rabbitmqctl " + undo_.front());
}

std::unique_ptr<node_change> apply_queue_policy(const std::string& name, const std::string& queue_regex,
                                                const std::string& definition, const std::string& queue) {
    auto change = std::make_unique<node_change>(
        std::vector<std::string>{"set_policy", "--apply-to", "queues", name, queue_regex, definition},
        std::vector<std::string>{"clear_policy", name});
    const bool applied = wait_until(
        [&] {
            const auto r = rabbitmqctl({"-q", "list_queues", "name", "policy"});
            return r.output.find(queue + "\t" + name) != std::string::npos;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(200));
    if (!applied) throw std::runtime_error("policy " + name + " did not reach " + queue + " within 30 s");
    return change;
}

node_restarter::node_restarter() {
    std::ifstream in(std::filesystem::path(node_dir()) / "node.env");
    std::string amqp_port, http_port;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("AMQP_PORT=")) amqp_port = line.substr(10);
        if (line.starts_with("HTTP_PORT=")) http_port = line.substr(10);
    }
    if (amqp_port.empty()) {  // no node.env: take the port from the URL the tests use
        static const std::regex port_re(R"(:(\d+)/?$)");
        std::smatch m;
        const std::string url = test_broker_url();
        if (std::regex_search(url, m, port_re)) amqp_port = m[1];
    }
    start_args_ = {"start", node_dir(), amqp_port};
    if (!http_port.empty()) start_args_.insert(start_args_.end(), {"--management", http_port});
}

node_restarter::~node_restarter() {
    if (!stopped_) return;
    const auto r = rabbitmq_script(start_args_);
    if (r.status != 0) std::cerr << "could not restart the RabbitMQ node:\n" << r.output;
}

void node_restarter::stop() {
    stopped_ = true;
    require_ok(rabbitmq_script({"stop", node_dir()}), "rabbitmq.sh stop");
}

void node_restarter::start() {
    require_ok(rabbitmq_script(start_args_), "rabbitmq.sh start");
    stopped_ = false;
}

std::string regex_escape(std::string_view text) {
    static const std::string special = R"(\^$.|?*+()[]{})";
    std::string out;
    for (char c : text) {
        if (special.find(c) != std::string::npos) out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

}  // namespace jobsd::test

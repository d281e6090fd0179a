// The lifecycle suites' world: one jobsd with broker names of its own on the shared test broker,
// its store (a SQLite file or a fresh PostgreSQL schema) and the jobs-worker processes a case
// starts; shared by lifecycle_tests.cpp and fairness_tests.cpp.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

namespace jobsd::test::lifecycle {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string key_a = "key-a-5d1c8e7f2b9a4c6e";
const std::string key_b = "key-b-9e4a2f6c1d7b3e8a";
const std::string project_a = "468ea7a0-66e1-4357-a760-236e54167f3e";
const std::string type = "pdf";  // every case uses this type

enum class backend { sqlite, postgres };

inline bool process_alive(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

// One jobsd with names of its own on the shared test broker, its store (a SQLite file or a
// fresh PostgreSQL schema), and the workers a case starts. The sweep runs every 100 ms and
// retries wait 200 ms, so lifecycle steps happen within a test's patience.
struct world {
    backend kind;
    temp_dir dir{"jobsd-lifecycle"};
    std::optional<pg_test_schema> pg;
    topology_names names{"lc", control_names::own};
    std::vector<std::pair<std::string, std::string>> env;
    std::unique_ptr<jobsd_process> server;
    std::vector<std::unique_ptr<child_process>> workers;
    int worker_count = 0;

    explicit world(backend b, const std::vector<std::pair<std::string, std::string>>& extra = {}) : kind(b) {
        if (kind == backend::postgres) pg.emplace();
        env = publishing_env(names, {{"JOBSD_AMQP_DELIVERY_LIMIT", "3"},
                                     // jobsctl job requeue is picked up soon
                                     {"JOBSD_AMQP_RELAY_INTERVAL_MS", "1000"},
                                     {"JOBSD_LIFECYCLE_SWEEP_INTERVAL_MS", "100"},
                                     {"JOBSD_LIFECYCLE_RETRY_BACKOFF_MS", "200"},
                                     {"JOBSD_LIFECYCLE_RETRY_BACKOFF_MAX_MS", "1000"},
                                     {"JOBSD_LIFECYCLE_STUCK_REFRESH_MS", "100"}});
        env.insert(env.end(), extra.begin(), extra.end());
        start_server();
    }

    ~world() {
        for (auto& w : workers) w.reset();
        server.reset();
        delete_topology(names);  // best effort: leave the shared broker as we found it
    }

    std::string store_url() const {
        return kind == backend::sqlite ? "sqlite:" + (dir.path() / "jobs.db").string() : pg->url();
    }

    // (Re)starts jobsd on the same store.
    void start_server() {
        jobsd_options o;
        o.store_url = store_url();
        o.env = env;
        server = start_jobsd(dir, o);
    }

    child_process& start_worker(std::vector<std::string> extra) {
        std::vector<std::string> args = worker_args(names, type);
        args.insert(args.end(), {"--delivery-limit", "3", "--concurrency", "1"});
        args.insert(args.end(), extra.begin(), extra.end());
        workers.push_back(std::make_unique<child_process>(
            required_env("JOBS_WORKER_BIN"), args,
            dir.path() / ("worker-" + std::to_string(worker_count++) + ".log")));
        return *workers.back();
    }

    // An exec worker whose command first writes the job to ran-<pid>.json and its pid to
    // pid-<pid>, then runs `rest`.
    child_process& start_exec_worker(const std::string& rest, std::vector<std::string> extra = {}) {
        const std::string d = dir.path().string();
        std::vector<std::string> args = {"--handler", "exec", "--command",
                                         "cat > " + d + "/ran-$$.json; echo $$ > " + d + "/pid-$$; " + rest};
        args.insert(args.end(), extra.begin(), extra.end());
        return start_worker(args);
    }

    // The uuids of the jobs the exec command has been given so far.
    std::vector<std::string> ran() const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
            if (e.path().filename().string().rfind("ran-", 0) != 0) continue;
            const auto text = read_text(e.path());
            if (text.empty()) continue;
            try {
                out.emplace_back(json::parse(text).at("uuid").as_string());
            } catch (const std::exception&) {  // still being written
            }
        }
        return out;
    }

    // The pid of the command started for the job (0 while there is none).
    pid_t command_pid() const {
        for (const auto& e : std::filesystem::directory_iterator(dir.path()))
            if (e.path().filename().string().rfind("pid-", 0) == 0)
                return std::atoi(read_text(e.path()).c_str());
        return 0;
    }

    http_client client() { return http_client(server->host(), server->port()); }

    std::string post(http_client& c, json::object extra = {}, const std::string& session = "s-life",
                     const std::string& key = key_a, const std::string& project = project_a) {
        json::object body{{"job_type", type},
                          {"session_id", session},
                          {"version", 2},
                          {"template_id", project},
                          {"values", json::object{{"headline", "hello"}}}};
        for (const auto& m : extra) body[m.key()] = m.value();
        auto res = c.post("/jobs/v2", key, json::serialize(body));
        BOOST_REQUIRE_MESSAGE(res.status == 201, "POST got " << res.status << " " << res.body);
        return std::string(res.json().at("job").at("uuid").as_string());
    }

    json::object job(http_client& c, const std::string& uuid, const std::string& key = key_a) {
        auto res = c.get("/jobs/" + uuid, key);
        BOOST_REQUIRE_MESSAGE(res.status == 200, "GET got " << res.status << " " << res.body);
        return res.json().as_object();
    }

    // Polls GET /jobs/:id until the status is `want` (or terminal and not `want`: a failure).
    json::object wait_status(http_client& c, const std::string& uuid, const std::string& want,
                             std::chrono::seconds timeout = 60s) {
        json::object last;
        const bool ok = wait_until(
            [&] {
                last = job(c, uuid);
                return last.at("job_status").as_string() == want;
            },
            timeout);
        BOOST_REQUIRE_MESSAGE(ok, "job " << uuid << " never " << want << "; last: " << json::serialize(last)
                                         << "\nworkers:\n"
                                         << worker_logs() << "\njobsd:\n"
                                         << server->stderr_text().substr(0, 6000));
        return last;
    }

    std::string worker_logs() {
        std::string out;
        for (auto& w : workers) out += w->log().substr(0, 4000) + "\n---\n";
        return out;
    }
};

inline http_response post_action(http_client& c, const std::string& uuid, const std::string& action,
                                 const std::string& key = key_a, const std::string& body = "") {
    return c.post("/jobs/" + uuid + "/" + action, key, body);
}

inline std::string status_in(const http_response& r) {
    const auto v = r.json();
    if (const auto* job = v.as_object().if_contains("job"))
        return std::string(job->at("job_status").as_string());
    return std::string(v.at("job_status").as_string());
}

}  // namespace jobsd::test::lifecycle

// End to end, one job's W3C trace (issue 18): its traceparent from the POST to GET /jobs/:id,
// the job message's headers, the events of a real jobs-worker and of the Python worker library,
// and jobsd's debug log lines. jobsd, the workers and the test broker are real processes.
#define BOOST_TEST_MODULE trace
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/amqp_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/status_events.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

using namespace jobsd::test;
namespace json = boost::json;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

namespace {

const std::string key_a(seed::key_a);
const std::string project_a(seed::project_a1);
const std::regex traceparent_form("00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})");

struct traceparent {
    std::string trace_id, parent_id, flags;
};

// A version-00 traceparent's parts; fails the test for anything else.
traceparent parts_of(const std::string& text) {
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_match(text, m, traceparent_form),
                          "not a version-00 traceparent: '" << text << "'");
    BOOST_TEST(m[1].str() != std::string(32, '0'));
    BOOST_TEST(m[2].str() != std::string(16, '0'));
    return {m[1], m[2], m[3]};
}

// jobsd at debug level (its stderr is a file the test reads), with taps of the test's own: a queue
// bound to the job exchange for each served type and one bound to the events exchange with '#'.
struct traced {
    temp_dir dir{"jobsd-trace"};
    topology_names names{"trace-"};
    topology_cleanup cleanup{names};  // after the processes below are gone
    std::unique_ptr<jobsd_process> server =
        start_test_jobsd(dir, publishing_env(names, {{"JOBSD_LOG_LEVEL", "debug"}}));
    std::unique_ptr<amqp_client> broker = connect_test_broker();
    std::vector<std::unique_ptr<child_process>> workers;
    std::vector<std::string> taps;

    ~traced() {
        for (auto& w : workers) w.reset();
        server.reset();
        for (const auto& q : taps) try {
                broker->delete_queue(q);
            } catch (...) {  // the node's state is not this test's outcome
            }
    }

    std::string tap(const std::string& exchange, const std::string& key) {
        const std::string queue = names.prefix + "tap." + std::to_string(taps.size());
        // jobsd declares its exchanges once connected: bind when they exist.
        std::string last_error;
        const bool bound = wait_until(
            [&] {
                try {
                    broker->declare_bound_queue(queue, exchange, key);
                    return true;
                } catch (const amqp_client_error& e) {
                    last_error = e.what();
                    return false;
                }
            },
            60s, 200ms);
        BOOST_REQUIRE_MESSAGE(bound, "binding a tap to " << exchange << ": " << last_error);
        taps.push_back(queue);
        return queue;
    }

    void start_cpp_worker(const std::string& type) {
        auto args = worker_args(names, type);
        args.insert(args.end(), {"--handler", "simulate", "--duration-ms", "200", "--steps", "2"});
        workers.push_back(std::make_unique<child_process>(required_env("JOBS_WORKER_BIN"), args,
                                                          dir.path() / ("worker-" + type + ".log")));
    }

    // The Python library (workers/python) with the conformance suite's handler, through env(1) for
    // its PYTHONPATH.
    void start_python_worker(const std::string& type) {
        std::vector<std::string> args{"PYTHONPATH=" + required_env("JOBSD_PYTHON_WORKER_PATH"),
                                      "/usr/bin/python3",
                                      "-m",
                                      "jobsd_worker",
                                      "--handler",
                                      "python_handler:handle"};
        for (auto& a : worker_args(names, type)) args.push_back(a);
        workers.push_back(std::make_unique<child_process>("/usr/bin/env", args,
                                                          dir.path() / ("python-worker-" + type + ".log")));
    }

    // POST /jobs/v2 with `headers` added; returns the new job's uuid.
    std::string post(http_client& c, const std::string& type, const header_list& headers) {
        json::object body{{"job_type", type},
                          {"session_id", "s-trace"},
                          {"version", 2},
                          {"template_id", project_a},
                          {"values", json::object{{"headline", "hello"}}}};
        header_list all{{"x-api-key", key_a}, {"content-type", "application/json"}};
        all.insert(all.end(), headers.begin(), headers.end());
        auto res = c.request(http::verb::post, "/jobs/v2", all, json::serialize(body));
        BOOST_REQUIRE_MESSAGE(res.status == 201, "POST got " << res.status << " " << res.body);
        return std::string(res.json().at("job").at("uuid").as_string());
    }

    json::object job(http_client& c, const std::string& uuid) {
        auto res = c.get("/jobs/" + uuid, key_a);
        BOOST_REQUIRE_EQUAL(res.status, 200);
        return res.json().as_object();
    }

    json::object wait_success(http_client& c, const std::string& uuid) {
        json::object last;
        const bool done = wait_until(
            [&] {
                last = job(c, uuid);
                return last.at("job_status").as_string() == "SUCCESS";
            },
            90s);
        BOOST_REQUIRE_MESSAGE(done, "job " << uuid << " not SUCCESS in time: " << json::serialize(last)
                                           << "\njobsd:\n"
                                           << server->stderr_text().substr(0, 8000) << "\nworkers:\n"
                                           << worker_logs());
        return last;
    }

    std::string worker_logs() const {
        std::string out;
        for (const auto& w : workers) out += w->log().substr(0, 4000) + "\n---\n";
        return out;
    }

    // The messages of `queue` about job `uuid` (their message id or body names it).
    std::vector<received> messages_of(const std::string& queue, const std::string& uuid) {
        std::vector<received> out;
        for (auto& m : broker->drain(queue, 1500ms))
            if (m.message_id == uuid || m.body.find(uuid) != std::string::npos) out.push_back(std::move(m));
        return out;
    }

    // Whether jobsd's log has a line holding every one of `parts`.
    bool jobsd_logged(const std::vector<std::string>& parts) const {
        const std::string log = server->stderr_text();
        std::size_t start = 0;
        while (start < log.size()) {
            const auto end = std::min(log.find('\n', start), log.size());
            const std::string_view line(log.data() + start, end - start);
            bool all = true;
            for (const auto& p : parts) all = all && line.find(p) != std::string_view::npos;
            if (all) return true;
            start = end + 1;
        }
        return false;
    }
};

// The job message's traceparent continues the client's trace with jobsd's span; every event of the
// job continues it with the worker's. Returns jobsd's span id.
std::string check_hop(traced& t, const std::string& jobs_tap, const std::string& events_tap,
                      const std::string& uuid, const traceparent& client) {
    const auto published = t.messages_of(jobs_tap, uuid);
    BOOST_REQUIRE_MESSAGE(published.size() == 1u,
                          "job messages of " << uuid << " on the tap: " << published.size());
    const auto header = published.front().headers.find("traceparent");
    BOOST_REQUIRE_MESSAGE(header != published.front().headers.end(),
                          "the job message has no traceparent header");
    const auto jobsd_span = parts_of(header->second);
    BOOST_TEST(jobsd_span.trace_id == client.trace_id);
    BOOST_TEST(jobsd_span.parent_id != client.parent_id);  // jobsd's own span, not the client's
    BOOST_TEST(jobsd_span.flags == client.flags);

    // One event per message, or several in a batch (contract 3) with the trace in each event.
    std::set<std::string> statuses;
    for (const auto& e : events_in(t.messages_of(events_tap, uuid))) {
        if (e.body.at("uuid").as_string() != uuid) continue;  // another job's, in a shared batch
        BOOST_TEST_CONTEXT("event " << json::serialize(e.body)) {
            BOOST_REQUIRE(!e.traceparent.empty());
            const auto worker_span = parts_of(e.traceparent);
            BOOST_TEST(worker_span.trace_id == client.trace_id);
            BOOST_TEST(worker_span.parent_id != jobsd_span.parent_id);  // the worker's own span
            BOOST_TEST(worker_span.parent_id != client.parent_id);
            BOOST_TEST(worker_span.flags == client.flags);
        }
        statuses.insert(e.status);
    }
    BOOST_TEST(statuses.count("STARTED") == 1u);
    BOOST_TEST(statuses.count("SUCCESS") == 1u);
    return jobsd_span.parent_id;
}

// jobsd's debug lines for the job: created, published, and each event applied, each with the
// trace id.
void check_jobsd_log(traced& t, const std::string& uuid, const std::string& trace_id) {
    const std::string tid = "trace_id=" + trace_id;
    for (const std::string what : {"created", "published", "STARTED", "SUCCESS"})
        BOOST_TEST(t.jobsd_logged({"job " + uuid + " " + what, tid}),
                   "no jobsd line 'job " << uuid << " " << what << " ... " << tid << "' in:\n"
                                         << t.server->stderr_text().substr(0, 12000));
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_job_is_followed_from_its_post_through_both_workers_and_the_logs) {
    traced t;
    const std::string jobs_tap_video = t.tap(t.names.exchange(), "video");
    const std::string jobs_tap_tts = t.tap(t.names.exchange(), "tts");
    const std::string events_tap = t.tap(t.names.events_exchange(), "#");
    t.start_cpp_worker("video");
    t.start_python_worker("tts");
    http_client c(t.server->host(), t.server->port());

    const traceparent client{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "01"};
    const std::string sent = "00-" + client.trace_id + "-" + client.parent_id + "-" + client.flags;
    for (const auto& [type, jobs_tap] :
         {std::pair{"video", jobs_tap_video}, std::pair{"tts", jobs_tap_tts}}) {
        BOOST_TEST_CONTEXT("a " << type << " job") {
            const std::string uuid = t.post(c, type, {{"traceparent", sent}});
            BOOST_TEST(t.job(c, uuid).at("trace_id").as_string() == client.trace_id);
            const auto done = t.wait_success(c, uuid);
            BOOST_TEST(done.at("trace_id").as_string() == client.trace_id);
            check_hop(t, jobs_tap, events_tap, uuid, client);
            // The events reach jobsd after the tap has them: wait for the SUCCESS line.
            wait_until([&] { return t.jobsd_logged({"job " + uuid + " SUCCESS"}); }, 30s);
            check_jobsd_log(t, uuid, client.trace_id);
            // The worker's own log lines about the job carry the trace id too.
            BOOST_TEST(t.worker_logs().find("trace_id=" + client.trace_id) != std::string::npos,
                       t.worker_logs());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_missing_or_invalid_traceparent_starts_a_new_trace_and_is_never_refused) {
    traced t;
    const std::string jobs_tap = t.tap(t.names.exchange(), "video");
    http_client c(t.server->host(), t.server->port());
    const std::string upper = "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01";
    const std::vector<header_list> requests{
        {},
        {{"traceparent", "garbage"}},
        {{"traceparent", upper}},
        {{"traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01"}},
        {{"traceparent", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}};
    std::set<std::string> trace_ids;
    for (const auto& headers : requests) {
        const std::string uuid = t.post(c, "video", headers);  // 201, never 400
        const std::string trace_id(t.job(c, uuid).at("trace_id").as_string());
        const auto fresh = parts_of("00-" + trace_id + "-0000000000000001-01");
        BOOST_TEST(fresh.trace_id != "0af7651916cd43dd8448eb211c80319c");
        trace_ids.insert(trace_id);
        // The message carries the new trace, sampled.
        const auto published = t.messages_of(jobs_tap, uuid);
        BOOST_REQUIRE_EQUAL(published.size(), 1u);
        const auto h = published.front().headers.find("traceparent");
        BOOST_REQUIRE(h != published.front().headers.end());
        const auto sent = parts_of(h->second);
        BOOST_TEST(sent.trace_id == trace_id);
        BOOST_TEST(sent.flags == "01");
    }
    BOOST_TEST(trace_ids.size() == requests.size());  // a new trace each
}

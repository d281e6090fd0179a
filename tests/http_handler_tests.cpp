// Unit tests of `jobs-worker --handler http` (worker/http_handler.*): the handler run directly
// against tests/model_server.py, a real HTTP server started by each test, and the answer mapping.
#define BOOST_TEST_MODULE http_handler
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/loopback_port.hpp"
#include "tests/support/wait.hpp"
#include "worker/handlers.hpp"
#include "worker/http_handler.hpp"
#include "worker/worker_options.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using jobsd::test::wait_until;
using jobsd::worker::http_handler;
using jobsd::worker::http_options;
using jobsd::worker::job_input;
using jobsd::worker::job_outcome;

namespace {

struct no_progress : jobsd::worker::progress_reporter {
    void report(int) override {}
};

// tests/model_server.py as a child process; its port read from its first line of output.
class model_server {
  public:
    explicit model_server(unsigned short port = 0) : dir_(fs::temp_directory_path() / make_name()) {
        fs::create_directories(dir_);
        const char* script = std::getenv("JOBSD_MODEL_SERVER");
        BOOST_TEST_REQUIRE(script != nullptr, "JOBSD_MODEL_SERVER (tests/model_server.py) is not set");
        child_ = std::make_unique<jobsd::test::child_process>(
            "/usr/bin/python3", std::vector<std::string>{script, "--port", std::to_string(port)},
            dir_ / "log");
        BOOST_TEST_REQUIRE(wait_until([&] { return read_port(); }, 30s),
                           "model server did not start: " << log());
    }
    ~model_server() {
        child_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    unsigned short port() const { return port_; }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    json::object stats() const {
        jobsd::test::http_client client("127.0.0.1", port_);
        return client.request(boost::beast::http::verb::get, "/stats").json().as_object();
    }
    std::string log() const { return child_ ? child_->log() : ""; }

  private:
    static std::string make_name() {
        static int n = 0;
        return "jobsd-model-server-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    }
    bool read_port() {
        std::ifstream in(dir_ / "log");
        std::string word;
        unsigned p = 0;
        if (!(in >> word >> p) || word != "port" || p == 0) return false;
        port_ = static_cast<unsigned short>(p);
        return true;
    }
    fs::path dir_;
    std::unique_ptr<jobsd::test::child_process> child_;
    unsigned short port_ = 0;
};

job_input make_job(std::string uuid, json::object input = {}) {
    job_input job;
    job.uuid = std::move(uuid);
    job.job_type = "image";
    job.attempt = 2;
    job.input = std::move(input);
    return job;
}

http_options options_for(const std::string& url, std::chrono::milliseconds timeout = 30s) {
    http_options o;
    o.url = url;
    o.timeout = timeout;
    return o;
}

job_outcome run(http_handler& h, const job_input& job) {
    no_progress p;
    return h.run(job, p, std::stop_token{});
}

}  // namespace

BOOST_AUTO_TEST_CASE(answer_mapping_without_io) {
    using jobsd::worker::outcome_of_answer;
    auto ok = outcome_of_answer(200, "OK", R"({"url":"u"})");
    BOOST_TEST(ok.ok);
    BOOST_TEST(json::serialize(ok.output) == R"({"url":"u"})");
    auto array = outcome_of_answer(200, "OK", "[1]");
    BOOST_TEST(!array.ok);
    BOOST_TEST(!array.retryable);
    BOOST_TEST(array.error == "model server answered 200 with a body that is not a JSON object: [1]");
    auto busy = outcome_of_answer(429, "Too Many Requests", R"({"message":"slow down"})");
    BOOST_TEST(busy.retryable);
    BOOST_TEST(busy.error == "model server answered 429 Too Many Requests: slow down");
    auto down = outcome_of_answer(502, "Bad Gateway", "");
    BOOST_TEST(down.retryable);
    BOOST_TEST(down.error == "model server answered 502 Bad Gateway");
    auto bad = outcome_of_answer(400, "Bad Request", "line one\nline two");
    BOOST_TEST(!bad.ok);
    BOOST_TEST(!bad.retryable);
    BOOST_TEST(bad.error == "model server answered 400 Bad Request: line one line two");
    auto long_text = outcome_of_answer(500, "", std::string(1000, 'e'));
    BOOST_TEST(long_text.error.size() == std::string("model server answered 500: ").size() + 203);
}

BOOST_AUTO_TEST_CASE(options_and_url) {
    std::vector<std::string> args = {"--type", "image", "--handler", "http"};
    auto r = jobsd::worker::parse_worker_options(args, {});
    BOOST_TEST(r.error == "--handler http needs --model-url (or JOBS_WORKER_MODEL_URL)");
    args = {"--type", "image", "--handler", "http", "--model-url", "https://m/x"};
    BOOST_TEST(jobsd::worker::parse_worker_options(args, {}).error ==
               "--model-url expects an http:// URL, got 'https://m/x'");
    args = {"--type",
            "image",
            "--handler",
            "http",
            "--model-url",
            "http://m:81/run?v=1",
            "--model-timeout-ms",
            "1500",
            "--model-max-response-bytes",
            "4096"};
    r = jobsd::worker::parse_worker_options(args, {});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    BOOST_TEST(r.options->http.url == "http://m:81/run?v=1");
    BOOST_TEST(r.options->http.timeout.count() == 1500);
    BOOST_TEST(r.options->http.max_response_bytes == 4096u);
    BOOST_CHECK_NO_THROW(jobsd::worker::make_handler(*r.options));
    BOOST_CHECK_THROW(http_handler(options_for("http:///nohost")), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(success_posts_the_input_and_reuses_the_connection) {
    model_server server;
    http_handler h(options_for(server.url("/ok")));
    auto first = run(h, make_job("job-1", json::object{{"prompt", "a cat"}}));
    BOOST_TEST_REQUIRE(first.ok, first.error);
    BOOST_TEST(json::serialize(first.output.at("echo")) == R"({"prompt":"a cat"})");
    BOOST_TEST(first.output.at("job_id").as_string() == "job-1");
    BOOST_TEST(first.output.at("attempt").as_string() == "2");
    auto second = run(h, make_job("job-2"));
    BOOST_TEST_REQUIRE(second.ok, second.error);
    BOOST_TEST(json::serialize(second.output.at("echo")) == "{}");
    // Keep-alive: the second job went over the first job's connection.
    BOOST_TEST(second.output.at("connection").as_int64() == first.output.at("connection").as_int64());
    BOOST_TEST(server.stats().at("connections").as_int64() == 2);  // the jobs' one, and stats()'s
}

BOOST_AUTO_TEST_CASE(failures_by_status_and_body) {
    model_server server;
    struct row {
        std::string path;
        bool retryable;
        std::string error;
    };
    const std::vector<row> rows = {
        {"/status/500", true, "model server answered 500 Internal Server Error: scripted 500"},
        {"/status/503", true, "model server answered 503 Service Unavailable: scripted 503"},
        {"/status/429", true, "model server answered 429 Too Many Requests: scripted 429"},
        {"/status/404", false, "model server answered 404 Not Found: scripted 404"},
        {"/status/422", false, "model server answered 422 Unprocessable Entity: scripted 422"},
        {"/notjson", false, "model server answered 200 with a body that is not a JSON object: hello"},
        {"/big", false, "model server answer larger than 1048576 bytes"},
    };
    for (const auto& r : rows) {
        http_handler h(options_for(server.url(r.path)));
        auto out = run(h, make_job("job-" + r.path));
        BOOST_TEST(!out.ok, r.path);
        BOOST_TEST(out.retryable == r.retryable, r.path);
        BOOST_TEST(out.error == r.error, r.path);
    }
}

BOOST_AUTO_TEST_CASE(unreachable_server_is_retryable) {
    http_handler h(
        options_for("http://127.0.0.1:" + std::to_string(jobsd::test::unused_loopback_port()) + "/run"));
    auto out = run(h, make_job("job-x"));
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.retryable);
    BOOST_TEST(out.error.rfind("model server unreachable: ", 0) == 0, out.error);
}

BOOST_AUTO_TEST_CASE(a_slow_answer_times_out) {
    model_server server;
    http_handler h(options_for(server.url("/slow"), 300ms));
    const auto start = std::chrono::steady_clock::now();
    auto out = run(h, make_job("job-slow"));
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.retryable);
    BOOST_TEST(out.error == "model server timed out after 300 ms");
    // The server answers after 30 s: the handler did not wait for it.
    BOOST_TEST((std::chrono::steady_clock::now() - start < 20s));
    // ...and the timeout closed the connection, which the server saw.
    BOOST_TEST(wait_until([&] { return server.stats().at("closed_while_slow").as_int64() == 1; }, 20s));
}

BOOST_AUTO_TEST_CASE(a_stop_closes_the_request) {
    model_server server;
    // A model timeout past the server's 30 s: only the stop can close this request early.
    http_handler h(options_for(server.url("/slow"), 120s));
    std::stop_source stop;
    std::optional<job_outcome> out;
    std::thread t([&] {
        no_progress p;
        out = h.run(make_job("job-cancel"), p, stop.get_token());
    });
    BOOST_TEST(wait_until([&] { return server.stats().at("requests").as_int64() == 1; }, 20s));
    stop.request_stop();
    t.join();
    BOOST_TEST_REQUIRE(out.has_value());
    BOOST_TEST(!out->ok);
    BOOST_TEST(out->error == "cancelled");
    BOOST_TEST(wait_until([&] { return server.stats().at("closed_while_slow").as_int64() == 1; }, 20s));
}

BOOST_AUTO_TEST_CASE(a_kept_connection_the_server_dropped_is_replaced) {
    auto server = std::make_unique<model_server>();
    const unsigned short port = server->port();
    http_handler h(options_for(server->url("/ok")));
    auto first = run(h, make_job("job-1"));
    BOOST_TEST_REQUIRE(first.ok, first.error);
    server.reset();  // kills it: the kept connection is dead now
    server = std::make_unique<model_server>(port);
    auto second = run(h, make_job("job-2"));
    BOOST_TEST_REQUIRE(second.ok, second.error);
    BOOST_TEST(second.output.at("connection").as_int64() == 1);  // the new server's first connection
}

BOOST_AUTO_TEST_CASE(a_job_stopped_before_it_runs_sends_nothing) {
    model_server server;
    http_handler h(options_for(server.url("/ok")));
    std::stop_source stop;
    stop.request_stop();
    no_progress p;
    auto out = h.run(make_job("job-stopped"), p, stop.get_token());
    BOOST_TEST(!out.ok);
    BOOST_TEST(out.error == "cancelled");
    BOOST_TEST(server.stats().at("requests").as_int64() == 0);
}

// Bounds a hostile or careless client meets: header, body and idle timeouts (slowloris), header
// size, connection count, requests per connection, abusive JSON, the rate limit and the outbox
// bound. Each against a real jobsd; durations are reported, outcomes and order asserted.
#define BOOST_TEST_MODULE limits
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/wait.hpp"

using namespace jobsd::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

using seed::key_a;

// A jobsd with tight limits, set through the environment it inherits.
struct tight_server {
    temp_dir dir{"jobsd-limits"};
    std::unique_ptr<jobsd_process> server;

    tight_server()
        : server(start_test_jobsd(dir, {{"JOBSD_SERVER_HEADER_TIMEOUT_MS", "1000"},
                                        {"JOBSD_SERVER_READ_TIMEOUT_MS", "1000"},
                                        {"JOBSD_SERVER_IDLE_TIMEOUT_MS", "1500"},
                                        {"JOBSD_SERVER_HEADER_LIMIT", "4096"},
                                        {"JOBSD_SERVER_MAX_CONNECTIONS", "3"},
                                        {"JOBSD_SERVER_MAX_REQUESTS_PER_CONNECTION", "3"}})) {}
};

// A raw connection: send bytes, read what comes, tell whether the server closed it.
class raw_conn {
  public:
    explicit raw_conn(unsigned short port) : socket_(ioc_) {
        socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    }

    void send(const std::string& bytes) {
        boost::system::error_code ec;
        asio::write(socket_, asio::buffer(bytes), ec);
    }

    // Reads until the server closes or `quiet` passes with nothing to read; true when closed.
    bool read_until_closed(std::chrono::milliseconds quiet) {
        char buf[4096];
        for (;;) {
            pollfd pfd{socket_.native_handle(), POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(quiet.count())) <= 0) return false;
            boost::system::error_code ec;
            const auto n = socket_.read_some(asio::buffer(buf), ec);
            text_.append(buf, n);
            if (ec) return true;
        }
    }

    const std::string& text() const { return text_; }

  private:
    asio::io_context ioc_;
    asio::ip::tcp::socket socket_;
    std::string text_;
};

}  // namespace

std::int64_t ms_since(steady::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count();
}

// One header byte every 200 ms: never complete, never idle. Cut off by the header timeout (1 s)
// long before the 40 bytes are sent.
BOOST_FIXTURE_TEST_CASE(slowloris_header_is_cut_off_within_the_header_timeout, tight_server) {
    raw_conn c(server->port());
    const auto start = steady::now();
    c.send("POST /jobs/v2 HTTP/1.1\r\nHost: x\r\n");
    bool closed = false;
    int sent = 0;
    for (; sent < 40 && !closed; ++sent) {
        c.send("X");
        closed = c.read_until_closed(200ms);
    }
    BOOST_TEST(closed, "the header was still being read after " << sent << " trickled bytes");
    BOOST_TEST_MESSAGE("cut off after " << ms_since(start) << " ms and " << sent << " bytes");
}

// The body's counterpart: a whole, valid header, then a body of 200 bytes trickled one every
// 200 ms. The read timeout (1 s) covers the whole body, so the connection ends long before the
// body could, with no answer and no job.
BOOST_FIXTURE_TEST_CASE(a_trickled_body_is_cut_off_within_the_read_timeout_and_creates_nothing,
                        tight_server) {
    raw_conn c(server->port());
    const auto start = steady::now();
    c.send("POST /jobs/v2 HTTP/1.1\r\nHost: x\r\nx-api-key: " + std::string(key_a) +
           "\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{");
    bool closed = false;
    int sent = 1;
    for (; sent < 199 && !closed; ++sent) {
        c.send(" ");
        closed = c.read_until_closed(200ms);
    }
    BOOST_TEST(closed, "the body was still being read after " << sent << " of 200 bytes");
    BOOST_TEST(c.text().find("201") == std::string::npos, c.text());
    BOOST_TEST_MESSAGE("cut off after " << ms_since(start) << " ms and " << sent << " body bytes");
    http_client client(server->host(), server->port());
    BOOST_TEST(metric(client, "jobsd_store_jobs_committed_total") == 0.0);
}

BOOST_FIXTURE_TEST_CASE(idle_keep_alive_connection_is_closed, tight_server) {
    raw_conn c(server->port());
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto start = steady::now();
    BOOST_TEST(c.read_until_closed(15s), "the idle connection was still open after 15 s");
    BOOST_TEST(c.text().find(" 200 ") != std::string::npos);
    // Never before the idle timeout (1.5 s; the answer came first, so at least 1 s of it).
    BOOST_TEST(ms_since(start) >= 1000);
    BOOST_TEST_MESSAGE("closed after " << ms_since(start) << " ms");
}

BOOST_FIXTURE_TEST_CASE(oversized_header_gets_431_and_close, tight_server) {
    raw_conn c(server->port());
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n");
    BOOST_TEST(c.read_until_closed(3s));
    BOOST_TEST(c.text().find(" 431 ") != std::string::npos, c.text().substr(0, 200));
}

BOOST_FIXTURE_TEST_CASE(connections_past_the_maximum_get_503, tight_server) {
    std::vector<std::unique_ptr<http_client>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<http_client>(server->host(), server->port()));
        BOOST_REQUIRE_EQUAL(held.back()->get("/healthz").status, 200);
    }
    raw_conn extra(server->port());
    extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(extra.read_until_closed(3s));
    BOOST_TEST(extra.text().find(" 503 ") != std::string::npos, extra.text().substr(0, 200));
    BOOST_TEST(extra.text().find("Retry-After") != std::string::npos);
    held.clear();  // once they go, new connections are served again
    for (int i = 0; i < 50; ++i) {
        raw_conn again(server->port());
        again.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        again.read_until_closed(3s);
        if (again.text().find(" 200 ") != std::string::npos) return;
        std::this_thread::sleep_for(50ms);
    }
    BOOST_FAIL("connections were not served again after the held ones closed");
}

BOOST_FIXTURE_TEST_CASE(connection_closes_after_its_request_budget, tight_server) {
    raw_conn c(server->port());
    const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send(get + get + get + get);
    BOOST_TEST(c.read_until_closed(3s));
    std::size_t answers = 0;
    for (auto pos = c.text().find("HTTP/1.1 200"); pos != std::string::npos;
         pos = c.text().find("HTTP/1.1 200", pos + 1))
        ++answers;
    BOOST_TEST(answers == 3u);
    BOOST_TEST(c.text().find("Connection: close") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(abusive_json_is_refused_and_writes_nothing, tight_server) {
    http_client client(server->host(), server->port());
    const std::string good_start = R"({"template_id":"468ea7a0-66e1-4357-a760-236e54167f3e",)";
    for (const std::string& body :
         {good_start + R"("job_type":"tts","job_type":"pdf"})",
          good_start + R"("job_type":"tts","values":{"a":"1","a":"2"}})",
          good_start + R"("job_type":"tts","x":)" + std::string(40, '[') + std::string(40, ']') + "}",
          good_start + R"("job_type":"tts","version":1e999})", good_start + R"("job_type":"tts"} {})"}) {
        auto res = client.post("/jobs/v2", key_a, body);
        BOOST_TEST_CONTEXT(body.substr(0, 120)) {
            BOOST_TEST(res.status == 400);
            BOOST_TEST(std::string(res.json().at("message").as_string()).rfind("Malformed JSON body", 0) ==
                       0u);
        }
    }
    BOOST_TEST(metric(client, "jobsd_store_jobs_committed_total") == 0.0);
}

namespace {

// A jobsd whose accounts may create a job every 100 s with a burst of 3: no token comes back
// during the test, however slowly the machine runs it.
struct throttled_server {
    temp_dir dir{"jobsd-throttle"};
    std::unique_ptr<jobsd_process> server = start_test_jobsd(
        dir, {{"JOBSD_SERVER_RATE_LIMIT_PER_SECOND", "0.01"}, {"JOBSD_SERVER_RATE_LIMIT_BURST", "3"}});
};

// A jobsd that refuses new jobs while more than 4 wait for the broker (publishing is off in the
// test config, so every job does).
struct bounded_outbox_server {
    temp_dir dir{"jobsd-backlog"};
    std::unique_ptr<jobsd_process> server = start_test_jobsd(dir, {{"JOBSD_SERVER_MAX_OUTBOX_BACKLOG", "4"}});
};

const std::string tts_job = R"({"job_type":"tts","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e"})";

double committed(http_client& c) {
    return metric(c, "jobsd_store_jobs_committed_total");
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(over_the_rate_gets_429_with_headers_and_no_job, throttled_server) {
    http_client c(server->host(), server->port());
    for (int i = 0; i < 3; ++i) {
        auto res = c.post("/jobs/v2", key_a, tts_job);
        BOOST_REQUIRE_EQUAL(res.status, 201);
        BOOST_TEST(res.header("RateLimit-Limit") == "3");
    }
    const auto before = committed(c);
    auto res = c.post("/jobs/v2", key_a, tts_job);
    BOOST_TEST(res.status == 429);
    BOOST_TEST(res.json().at("message").as_string() == "Rate limit exceeded, retry later");
    // Seconds until one token is back: about 100 at 0.01 jobs/s.
    const int retry_after = std::atoi(res.header("Retry-After").c_str());
    BOOST_TEST((retry_after > 1 && retry_after <= 100), "Retry-After: " << res.header("Retry-After"));
    BOOST_TEST(res.header("RateLimit-Remaining") == "0");
    BOOST_TEST(!res.header("RateLimit-Reset").empty());
    BOOST_TEST(committed(c) == before);
    // Another account is not throttled by this one; reads are never throttled.
    BOOST_TEST(c.post("/jobs/v2", seed::key_b,
                      R"({"job_type":"tts","template_id":"e3a90df2-f2cc-4494-bdba-0b85651452a1"})")
                   .status == 201);
    BOOST_TEST(c.get("/api/provider/projects/active", key_a).status == 200);
}

BOOST_FIXTURE_TEST_CASE(outbox_backlog_past_its_bound_gets_503_and_reads_still_work, bounded_outbox_server) {
    http_client c(server->host(), server->port());
    std::string uuid;
    for (int i = 0; i < 5; ++i) {
        auto res = c.post("/jobs/v2", key_a, tts_job);
        BOOST_REQUIRE_EQUAL(res.status, 201);
        uuid = std::string(res.json().at("job").at("uuid").as_string());
    }
    // The backlog is sampled every second; /readyz says so once the sample is past the bound,
    // and from then on (nothing is ever published here) new jobs are refused.
    const auto ready = within(30s, [&] {
        return c.get("/readyz").body.find("outbox backlog past its bound") != std::string::npos;
    });
    BOOST_TEST_REQUIRE(ready.has_value(), "/readyz never named the backlog: " << c.get("/readyz").body);
    BOOST_TEST(c.get("/readyz").status == 503);
    const auto before = committed(c);
    auto res = c.post("/jobs/v2", key_a, tts_job);
    BOOST_TEST(res.status == 503);
    BOOST_TEST(res.header("Retry-After") == "5");
    BOOST_TEST(res.json().at("message").as_string() == "Too many jobs waiting for the broker, retry later");
    BOOST_TEST(committed(c) == before);
    BOOST_TEST(c.get("/jobs/" + uuid, key_a).status == 200);
}

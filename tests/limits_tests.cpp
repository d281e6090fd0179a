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
#include <sstream>
#include <thread>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/wait.hpp"

using namespace jobsd::test;
namespace asio = boost::asio;
namespace http = boost::beast::http;
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
                                        {"JOBSD_SERVER_BODY_TIMEOUT_MS", "3000"},
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
// 200 ms. Each byte comes within the read timeout (1 s), but the whole body must be in within the
// body timeout (3 s): the answer is 408 and the connection ends long before the body could, with
// no job.
BOOST_FIXTURE_TEST_CASE(a_trickled_body_is_cut_off_within_the_body_timeout_and_creates_nothing,
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
    BOOST_TEST(c.text().find("HTTP/1.1 408 ") == 0u, c.text());
    BOOST_TEST(ms_since(start) >= 2500);
    BOOST_TEST_MESSAGE("cut off after " << ms_since(start) << " ms and " << sent << " body bytes");
    http_client client(server->host(), server->port());
    BOOST_TEST(metric(client, "jobsd_store_jobs_committed_total") == 0.0);
}

// A slow but steady client: its body comes in four parts 450 ms apart, longer in all than the read
// timeout (1 s), each part well within it. It is served.
BOOST_FIXTURE_TEST_CASE(a_body_that_keeps_coming_is_read_past_the_read_timeout, tight_server) {
    const std::string body = R"({"job_type":"tts","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e"})";
    raw_conn c(server->port());
    const auto start = steady::now();
    c.send("POST /jobs/v2 HTTP/1.1\r\nHost: x\r\nx-api-key: " + std::string(key_a) +
           "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n");
    const std::size_t part = body.size() / 4 + 1;
    for (std::size_t at = 0; at < body.size(); at += part) {
        std::this_thread::sleep_for(450ms);
        c.send(body.substr(at, part));
    }
    BOOST_TEST(c.read_until_closed(5s));
    BOOST_TEST(ms_since(start) >= 1000);
    BOOST_TEST(c.text().find("HTTP/1.1 201 ") == 0u, c.text());
}

// HEAD is answered with the head a GET gets (its Content-Length too) and no body, so the next
// answer on the connection starts right after it.
BOOST_FIXTURE_TEST_CASE(head_gets_the_get_head_and_no_body, tight_server) {
    raw_conn c(server->port());
    c.send(
        "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /jobs/v2/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    BOOST_TEST(c.read_until_closed(5s));
    const std::string& t = c.text();
    BOOST_TEST_REQUIRE(t.find("HTTP/1.1 200 ") == 0u, t);
    const auto head_end = t.find("\r\n\r\n") + 4;
    BOOST_TEST(t.compare(head_end, 13, "HTTP/1.1 200 ") == 0, t);
    // The HEAD's Content-Length is the GET's, whose body follows its own head.
    const auto length_of = [&](std::size_t from) {
        const auto at = t.find("Content-Length: ", from);
        return std::stoul(t.substr(at + 16));
    };
    const auto get_end = t.find("\r\n\r\n", head_end) + 4;
    BOOST_TEST(length_of(0) == length_of(head_end));
    BOOST_TEST(length_of(0) > 0u);
    // A stream has no head apart from its body: 405, with no body either.
    const auto third = get_end + length_of(head_end);
    BOOST_TEST(t.compare(third, 13, "HTTP/1.1 405 ") == 0, t);
    BOOST_TEST(t.substr(third).find("Allow: GET\r\n") != std::string::npos, t);
    BOOST_TEST(t.substr(third).ends_with("\r\n\r\n"), t);
}

// Expect: 100-continue: an admitted request is told to go on before it sends its body; a refused
// one is answered at once, its body never asked for, and the connection closes.
BOOST_FIXTURE_TEST_CASE(expect_100_continue_is_answered, tight_server) {
    const std::string body = R"({"job_type":"tts","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e"})";
    const auto head = [&](std::string_view key) {
        return "POST /jobs/v2 HTTP/1.1\r\nHost: x\r\nx-api-key: " + std::string(key) +
               "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n";
    };
    raw_conn c(server->port());
    c.send(head(key_a));
    c.read_until_closed(300ms);  // returns once the 100 came and nothing more did for 300 ms
    BOOST_TEST_REQUIRE(c.text() == "HTTP/1.1 100 Continue\r\n\r\n", c.text());
    c.send(body);
    c.read_until_closed(3s);
    BOOST_TEST(c.text().find("HTTP/1.1 201 ", 25) == 25u, c.text());

    raw_conn refused(server->port());
    const auto start = steady::now();
    refused.send(head("not-a-key"));
    BOOST_TEST(refused.read_until_closed(3s));
    BOOST_TEST(refused.text().find("HTTP/1.1 401 ") == 0u, refused.text());
    BOOST_TEST(ms_since(start) < 1000);
}

// A cancel's body is small ({} or one member): past 4096 bytes it is refused whether its length
// is declared or it comes chunked.
BOOST_FIXTURE_TEST_CASE(a_cancel_body_is_bounded_declared_or_chunked, tight_server) {
    const std::string target = "/jobs/0190f3c2-8a4e-7b21-9c3d-5e6f7a8b9c0d/cancel";
    const std::string big = "{\"reason\":\"" + std::string(5000, 'x') + "\"}";
    const std::string head = "POST " + target + " HTTP/1.1\r\nHost: x\r\nx-api-key: " + std::string(key_a) +
                             "\r\nContent-Type: application/json\r\n";
    raw_conn declared(server->port());
    declared.send(head + "Content-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big);
    declared.read_until_closed(3s);
    BOOST_TEST(declared.text().find("HTTP/1.1 413 ") == 0u, declared.text());
    raw_conn chunked(server->port());
    std::ostringstream size;
    size << std::hex << big.size();
    chunked.send(head + "Transfer-Encoding: chunked\r\n\r\n" + size.str() + "\r\n" + big + "\r\n0\r\n\r\n");
    chunked.read_until_closed(3s);
    BOOST_TEST(chunked.text().find("HTTP/1.1 413 ") == 0u, chunked.text());
    // A small one reaches the handler: an unknown job.
    raw_conn small(server->port());
    small.send(head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    small.read_until_closed(3s);
    BOOST_TEST(small.text().find("HTTP/1.1 404 ") == 0u, small.text());
}

// A client that sends its whole body before it reads: a body past its limit is answered 413 and
// not read, but what the client still sends is taken in and dropped until it is done, so its
// writes do not fail on a reset and the answer reaches it.
BOOST_FIXTURE_TEST_CASE(a_body_past_its_limit_is_drained_so_the_413_arrives, tight_server) {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), server->port()});
    const std::string body(4 * 1024 * 1024, ' ');
    const std::string request =
        "POST /jobs/v2 HTTP/1.1\r\nHost: x\r\nx-api-key: " + std::string(key_a) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    boost::system::error_code ec;
    asio::write(s, asio::buffer(request), ec);
    BOOST_TEST_REQUIRE(!ec);
    asio::write(s, asio::buffer(body), ec);
    BOOST_TEST(!ec, "writing the body failed: " << ec.message());
    s.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    std::string text;
    char buf[4096];
    for (;;) {
        const auto n = s.read_some(asio::buffer(buf), ec);
        text.append(buf, n);
        if (ec) break;
    }
    BOOST_TEST(ec == asio::error::eof, ec.message());
    BOOST_TEST(text.find("HTTP/1.1 413 ") == 0u, text);
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

// A token is taken only by a request that could create a job: refusals of the header (415) take
// none, and a repeat of an Idempotency-Key is replayed with 201 even once the bucket is empty.
BOOST_FIXTURE_TEST_CASE(refusals_and_replays_take_no_rate_token, throttled_server) {
    http_client c(server->host(), server->port());
    for (int i = 0; i < 4; ++i) BOOST_TEST(c.post("/jobs/v2", key_a, tts_job, "text/plain").status == 415);
    auto keyed = [&](std::string_view key) {
        return c.request(http::verb::post, "/jobs/v2",
                         {{"x-api-key", std::string(key_a)},
                          {"Content-Type", "application/json"},
                          {"Idempotency-Key", std::string(key)}},
                         tts_job);
    };
    auto first = keyed("rate-replay-1");
    BOOST_REQUIRE_EQUAL(first.status, 201);
    for (int i = 0; i < 2; ++i) BOOST_REQUIRE_EQUAL(c.post("/jobs/v2", key_a, tts_job).status, 201);
    const auto before = committed(c);
    auto again = keyed("rate-replay-1");
    BOOST_TEST(again.status == 201);
    BOOST_TEST(again.header("Idempotent-Replayed") == "true");
    BOOST_TEST(again.json().at("job").at("uuid") == first.json().at("job").at("uuid"));
    // A new key is a new job: the bucket is empty.
    BOOST_TEST(keyed("rate-replay-2").status == 429);
    BOOST_TEST(c.post("/jobs/v2", key_a, tts_job).status == 429);
    BOOST_TEST(committed(c) == before);
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

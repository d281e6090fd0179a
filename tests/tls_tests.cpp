// jobsd with TLS on its listener, against a self-signed certificate the test makes: jobs over
// HTTPS, keep-alive, the connection limit, the handshake timeout, refusals, drain, bad config.
#define BOOST_TEST_MODULE tls
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <signal.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <optional>
#include <set>

#include "tests/support/http_client.hpp"
#include "tests/support/https_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/request_threads.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sqlite_file.hpp"
#include "tests/support/test_certificate.hpp"
#include "tests/support/wait.hpp"

using namespace jobsd::test;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

using seed::key_a;
const std::string job = R"({"job_type":"tts","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e"})";

std::vector<std::pair<std::string, std::string>> tls_env(const certificate_files& files) {
    return {{"JOBSD_TLS_ENABLED", "true"},
            {"JOBSD_TLS_CERTIFICATE_FILE", files.certificate.string()},
            {"JOBSD_TLS_PRIVATE_KEY_FILE", files.private_key.string()},
            {"JOBSD_TLS_HANDSHAKE_TIMEOUT_MS", "1000"},
            {"JOBSD_SERVER_HEADER_TIMEOUT_MS", "1000"},
            {"JOBSD_SERVER_IDLE_TIMEOUT_MS", "1500"},
            {"JOBSD_SERVER_MAX_CONNECTIONS", "3"}};
}

struct tls_server {
    temp_dir dir{"jobsd-tls"};
    certificate_files cert = make_self_signed_certificate(dir.path(), "jobsd-test");
    std::unique_ptr<jobsd_process> server = start_test_jobsd(dir, tls_env(cert));

    https_client client() const { return https_client(server->host(), server->port(), cert.certificate); }
};

// A raw TCP connection that sends `bytes` (maybe none) and waits up to `limit` for the server
// to close it. Returns how long that took, or nullopt when it stayed open; `received` gets
// whatever came before the close.
std::optional<steady::duration> wait_for_close(unsigned short port, const std::string& bytes,
                                               std::chrono::milliseconds limit, std::string& received) {
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    const auto start = steady::now();
    if (!bytes.empty()) asio::write(socket, asio::buffer(bytes));
    char buf[4096];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(start + limit - steady::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd pfd{socket.native_handle(), POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
        boost::system::error_code ec;
        const auto n = socket.read_some(asio::buffer(buf), ec);
        received.append(buf, n);
        if (ec) return steady::now() - start;
    }
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_job_is_created_and_read_back_over_tls, tls_server) {
    auto c = client();
    const auto created = c.post("/jobs/v2", key_a, job);
    BOOST_TEST_REQUIRE(created.status == 201u, created.body);
    const std::string uuid(created.json().at("job").at("uuid").as_string());
    const auto read = c.get("/jobs/" + uuid, key_a);
    BOOST_TEST_REQUIRE(read.status == 200u, read.body);
    BOOST_TEST(read.json().at("uuid").as_string() == uuid);
    BOOST_TEST(read.json().at("job_type").as_string() == "tts");
    BOOST_TEST(c.get("/jobs/" + uuid).status == 401u);  // the key is still checked
}

BOOST_FIXTURE_TEST_CASE(keep_alive_serves_several_requests_on_one_connection, tls_server) {
    auto c = client();
    for (int i = 0; i < 3; ++i) BOOST_TEST(c.post("/jobs/v2", key_a, job).status == 201u);
    BOOST_TEST(c.get("/healthz").status == 200u);
    BOOST_TEST(c.get("/nowhere").status == 404u);
    BOOST_TEST(c.connections_opened() == 1u);
}

BOOST_FIXTURE_TEST_CASE(status_events_stream_over_tls, tls_server) {
    auto listener = client();
    const auto head = listener.send_and_read_until(
        "GET /jobs/v2/events?session_id=sess-tls HTTP/1.1\r\nHost: x\r\nx-api-key: " + std::string(key_a) +
            "\r\n\r\n",
        ": subscribed", 5s);
    BOOST_TEST_REQUIRE(head.starts_with("HTTP/1.1 200"), head);
    BOOST_TEST_REQUIRE(head.find(": subscribed") != std::string::npos, head);
    auto poster = client();
    const auto created =
        poster.post("/jobs/v2", key_a,
                    R"({"job_type":"tts","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e",)"
                    R"("session_id":"sess-tls"})");
    BOOST_TEST_REQUIRE(created.status == 201u, created.body);
    const std::string uuid(created.json().at("job").at("uuid").as_string());
    const auto events = listener.send_and_read_until("", "QUEUED", 5s);
    BOOST_TEST(events.find("event: status") != std::string::npos, events);
    BOOST_TEST(events.find(uuid) != std::string::npos, events);
    listener.abort();
}

BOOST_FIXTURE_TEST_CASE(plain_http_to_the_tls_port_is_refused, tls_server) {
    {
        http_client plain(server->host(), server->port(), 5s);
        try {
            const auto res = plain.post("/jobs/v2", key_a, job);
            BOOST_TEST(res.status != 201u, "plain HTTP was answered " << res.status);
        } catch (const boost::system::system_error&) {
            // Expected: what comes back is not HTTP, or nothing does.
        }
    }
    std::string received;
    const auto closed =
        wait_for_close(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5s, received);
    BOOST_TEST(closed.has_value(), "the server kept a plain HTTP connection open");
    BOOST_TEST(!received.starts_with("HTTP/"), received);
    // And it goes on serving TLS clients.
    BOOST_TEST(client().get("/healthz").status == 200u);
}

BOOST_FIXTURE_TEST_CASE(a_client_that_never_says_hello_is_cut_off, tls_server) {
    // The handshake timeout is 1 s; the header and idle timeouts only start after a handshake.
    std::string received;
    const auto closed = wait_for_close(server->port(), "", 15s, received);
    BOOST_TEST_REQUIRE(closed.has_value(), "a silent connection was still open after 15 s");
    BOOST_TEST(*closed >= 500ms);
    BOOST_TEST(received.empty());
}

BOOST_FIXTURE_TEST_CASE(header_and_idle_timeouts_apply_inside_tls, tls_server) {
    // A header that trickles and never ends is cut off after the header timeout (1 s)...
    auto trickler = client();
    const auto start = steady::now();
    BOOST_TEST(trickler.send_and_wait_for_close("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", 15s));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    BOOST_TEST(took >= 500ms);
    // ...and a keep-alive connection left idle goes after the idle timeout (1.5 s).
    auto idle = client();
    BOOST_TEST_REQUIRE(idle.get("/healthz").status == 200u);
    BOOST_TEST(idle.send_and_wait_for_close("", 15s));
}

BOOST_FIXTURE_TEST_CASE(a_client_trusting_another_authority_fails, tls_server) {
    const auto other = make_self_signed_certificate(dir.path(), "other-authority");
    https_client stranger(server->host(), server->port(), other.certificate);
    BOOST_CHECK_THROW(stranger.connect(), boost::system::system_error);
    BOOST_TEST(stranger.connections_opened() == 0u);
    BOOST_TEST(client().get("/healthz").status == 200u);
}

BOOST_FIXTURE_TEST_CASE(one_connection_over_the_limit_gets_503_over_tls, tls_server) {
    std::vector<std::unique_ptr<https_client>> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(std::make_unique<https_client>(server->host(), server->port(), cert.certificate));
        BOOST_TEST_REQUIRE(held.back()->get("/healthz").status == 200u);
    }
    auto extra = client();
    const auto refused = extra.get("/healthz");
    BOOST_TEST(refused.status == 503u);
    BOOST_TEST(refused.header("Retry-After") == "1");
    held.clear();
}

// SIGTERM with a TLS request in flight (held in jobsd's store by the test's lock on the file) and
// another TLS session idle: the held request is answered 201 once the store goes on, the job is
// stored, and jobsd exits 0 on its own.
BOOST_AUTO_TEST_CASE(sigterm_drains_with_tls_sessions_open) {
    temp_dir dir{"jobsd-tls-drain"};
    const auto cert = make_self_signed_certificate(dir.path(), "jobsd-test");
    auto env = tls_env(cert);
    env.emplace_back("JOBSD_SERVER_MAX_CONNECTIONS", "20");  // the held requests each need one
    const auto server = start_test_jobsd(dir, env);
    https_client observer(server->host(), server->port(), cert.certificate);
    BOOST_TEST_REQUIRE(observer.get("/healthz").status == 200u);
    auto scrape = [&] { return parse_metrics(observer.get("/metrics").body); };
    auto post = [host = server->host(), port = server->port(), ca = cert.certificate] {
        https_client c(host, port, ca);
        return c.post("/jobs/v2", key_a, job);
    };
    request_threads held;
    std::vector<request_outcome> outcomes;
    {
        sqlite_write_lock lock(test_db(dir));
        post_until_queued(held, post, scrape, 1, 3s);
        ::kill(server->pid(), SIGTERM);
        // Shutting down: the idle session's next request is refused, the held ones wait.
        // A failed read fails the check, not the case, so the held requests' outcomes are still
        // checked and shown.
        std::string observer_error;
        auto refused = [&] {
            try {
                return observer.get("/healthz").status == 503;
            } catch (const std::exception& e) {
                observer_error = e.what();
                return true;
            }
        };
        BOOST_TEST(wait_until(refused, 3s, 10ms), "jobsd did not start draining");
        BOOST_TEST(observer_error.empty(), "the idle session was not answered 503: " << observer_error);
        BOOST_TEST(held.ended() == 0u, "a held request ended before the store went on");
    }
    outcomes = held.join();
    std::set<std::string> answered;
    for (const auto& o : outcomes) {
        BOOST_TEST(o.status == 201u, o.status << " " << o.body << o.error);
        if (o.status == 201)
            answered.insert(std::string(boost::json::parse(o.body).at("job").at("uuid").as_string()));
    }
    const auto ended = server->wait_exit(30s);  // signalled already: only wait
    BOOST_TEST(ended.exited, "jobsd ended by signal " << ended.signal);
    BOOST_TEST(ended.code == 0);
    BOOST_TEST(!ended.forced);
    BOOST_TEST(answered.size() == held.started());
    const auto stored = stored_uuids(test_db(dir));
    for (const auto& uuid : answered)
        BOOST_TEST(stored.count(uuid) == 1u, uuid << " answered 201, not stored");
}

namespace {

// Starting must fail, with the problem and the file named on stderr.
void expect_startup_failure(const temp_dir& dir, const std::vector<std::pair<std::string, std::string>>& env,
                            const std::vector<std::string>& expected) {
    try {
        auto server = start_test_jobsd(dir, env);
        BOOST_ERROR("jobsd started with a bad TLS configuration");
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("exited with code") != std::string::npos, what);
        BOOST_TEST(what.find("exited with code 0") == std::string::npos, what);
        for (const auto& text : expected)
            BOOST_TEST(what.find(text) != std::string::npos, "no \"" << text << "\" in " << what);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_missing_certificate_file_stops_startup) {
    temp_dir dir{"jobsd-tls-bad"};
    auto files = make_self_signed_certificate(dir.path(), "jobsd-test");
    files.certificate = dir.path() / "missing.crt";
    expect_startup_failure(dir, tls_env(files), {"tls.certificate_file", files.certificate.string()});
}

BOOST_AUTO_TEST_CASE(a_key_of_another_certificate_stops_startup) {
    temp_dir dir{"jobsd-tls-bad"};
    auto files = make_self_signed_certificate(dir.path(), "jobsd-test");
    files.private_key = make_self_signed_certificate(dir.path(), "other").private_key;
    expect_startup_failure(dir, tls_env(files), {"does not match", files.private_key.string()});
}

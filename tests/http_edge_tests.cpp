// HTTP edges: one identity per request, every request-target form, declared charsets (the raw
// requests in tests/data/edges/, each named after the status it must get), and the headers that
// protect the pages meant for a browser, checked in headless Chromium too.
#define BOOST_TEST_MODULE http_edges
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"

using namespace jobsd::test;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view key_a = "key-a-5d1c8e7f2b9a4c6e";
constexpr std::string_view key_b = "key-b-9e4a2f6c1d7b3e8a";
constexpr std::string_view operator_key = "op-key-8f2c4a6e1b9d7c3e";

// The size of the answer `text` begins with (its head, then a body of its Content-Length, none
// without one), or 0 while it has not all arrived.
std::size_t whole_answer_size(const std::string& text) {
    const auto end = text.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    const auto cl = text.find("Content-Length: ");
    const std::size_t size = end + 4 + (cl < end ? std::stoul(text.substr(cl + 16)) : 0);
    return text.size() >= size ? size : 0;
}

// Sends `bytes` on a fresh connection and reads one answer (up to its Content-Length), or what
// came before the server closed or 3 s passed.
std::string send_raw(unsigned short port, const std::string& bytes) {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(s, asio::buffer(bytes));
    std::string text;
    char buf[4096];
    while (whole_answer_size(text) == 0) {
        pollfd pfd{s.native_handle(), POLLIN, 0};
        if (::poll(&pfd, 1, 3000) <= 0) break;
        boost::system::error_code ec;
        const auto n = s.read_some(asio::buffer(buf), ec);
        text.append(buf, n);
        if (ec) break;
    }
    return text;
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
        s.replace(at, what.size(), with);
}

// One corpus file: its expected status (the name's prefix), an optional `#!expect TEXT` first line
// the answer must contain, and the request with its placeholders filled in.
struct edge_case {
    std::string name;
    std::string status;
    std::string expect;
    std::string request;
};

edge_case load_case(const fs::path& file, unsigned short port) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    edge_case c{file.filename().string(), file.filename().string().substr(0, 3), "", bytes.str()};
    if (c.request.starts_with("#!expect ")) {
        const auto eol = c.request.find("\r\n");
        c.expect = c.request.substr(9, eol - 9);
        c.request.erase(0, eol + 2);
    }
    const std::string host = "127.0.0.1:" + std::to_string(port);
    std::string upper = host;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char ch) { return std::toupper(ch); });
    replace_all(c.request, "{HOST_UPPER}", upper);
    replace_all(c.request, "{HOST}", host);
    replace_all(c.request, "{KEY}", key_a);
    replace_all(c.request, "{KEY_B}", key_b);
    replace_all(c.request, "{OPERATOR_KEY}", operator_key);
    replace_all(c.request, "{RANDOM}", std::to_string(std::random_device{}()));
    const auto body_at = c.request.find("\r\n\r\n") + 4;
    replace_all(c.request, "{LENGTH}", std::to_string(c.request.size() - body_at));
    return c;
}

struct server_fixture {
    temp_dir dir{"jobsd-edges"};
    std::unique_ptr<jobsd_process> server = start_test_jobsd(dir);
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(every_edge_request_gets_its_status, server_fixture) {
    const auto corpus = fs::path(required_env("JOBSD_TEST_DATA")) / "edges";
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(corpus)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        const auto c = load_case(file, server->port());
        const auto answer = send_raw(server->port(), c.request);
        BOOST_TEST_CONTEXT(c.name << " answered: " << answer) {
            BOOST_TEST(answer.rfind("HTTP/1.1 " + c.status + " ", 0) == 0u);
            if (!c.expect.empty()) BOOST_TEST(answer.find(c.expect) != std::string::npos);
            if (c.status.front() == '4') BOOST_TEST(answer.find("\"message\"") != std::string::npos);
        }
    }
    BOOST_TEST(files.size() >= 20u);
}

BOOST_FIXTURE_TEST_CASE(an_absolute_form_create_is_the_same_job_as_an_origin_form_one, server_fixture) {
    // The job the absolute form created is readable by its id through the origin form.
    const auto c = load_case(fs::path(required_env("JOBSD_TEST_DATA")) / "edges" / "201-absolute-form.http",
                             server->port());
    const auto answer = send_raw(server->port(), c.request);
    const auto at = answer.find(R"("uuid":")");
    BOOST_TEST_REQUIRE(at != std::string::npos, answer);
    const auto uuid = answer.substr(at + 8, 36);
    http_client client("127.0.0.1", server->port());
    const auto got = client.get("/jobs/" + uuid, key_a);
    BOOST_TEST(got.status == 200u, got.body);
    BOOST_TEST(got.body.find(R"("session_id":"edges")") != std::string::npos, got.body);
    BOOST_TEST(got.body.find(R"("job_type":"video")") != std::string::npos, got.body);
}

// Answers larger than the socket takes at once (the OpenAPI document, 80 KB and more, asked for 64
// times in one pipelined write, 5 MB and more, by a client with a 4 KB receive buffer that waits
// before it reads): more than the server's send buffer can hold, so writes end part-way and what
// each left goes out asynchronously. Every answer arrives whole and in order.
BOOST_FIXTURE_TEST_CASE(answers_larger_than_the_socket_takes_reach_a_slow_reader_whole, server_fixture) {
    const std::string request = "GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const std::string alone = send_raw(server->port(), request);
    BOOST_TEST_REQUIRE(alone.starts_with("HTTP/1.1 200 "), alone.substr(0, 200));
    const std::string document = alone.substr(alone.find("\r\n\r\n") + 4);
    BOOST_TEST_REQUIRE(document.size() > 64u * 1024u);

    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.open(asio::ip::tcp::v4());
    s.set_option(asio::socket_base::receive_buffer_size(4096));
    s.connect({asio::ip::make_address("127.0.0.1"), server->port()});
    constexpr std::size_t asked = 64;
    std::string pipelined;
    for (std::size_t i = 0; i < asked; ++i) pipelined += request;
    asio::write(s, asio::buffer(pipelined));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server meets a full socket
    std::string text;
    char buf[4096];
    std::size_t answers = 0;
    while (answers < asked) {
        if (const std::size_t size = whole_answer_size(text)) {
            const auto body_at = text.find("\r\n\r\n") + 4;
            BOOST_TEST_CONTEXT("answer " << answers + 1) {
                BOOST_TEST(text.starts_with("HTTP/1.1 200 "), text.substr(0, body_at));
                BOOST_TEST((text.substr(body_at, size - body_at) == document));
            }
            text.erase(0, size);
            ++answers;
            continue;
        }
        pollfd pfd{s.native_handle(), POLLIN, 0};
        BOOST_TEST_REQUIRE(::poll(&pfd, 1, 5000) > 0,
                           "answer " << answers + 1 << " stalled after " << text.size() << " bytes");
        boost::system::error_code ec;
        const auto n = s.read_some(asio::buffer(buf), ec);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        text.append(buf, n);
    }
    BOOST_TEST(text.empty(), text.substr(0, 200));
}

BOOST_FIXTURE_TEST_CASE(pages_cannot_be_framed_and_load_only_their_own_origin, server_fixture) {
    http_client client("127.0.0.1", server->port());
    for (std::string path : {"/dashboard", "/dashboard/dashboard.js", "/dashboard/dashboard.css"}) {
        const auto page = client.get(path);
        BOOST_TEST_CONTEXT(path) {
            BOOST_TEST(page.status == 200u);
            const auto csp = page.header("Content-Security-Policy");
            BOOST_TEST(csp.find("default-src 'self'") != std::string::npos, csp);
            BOOST_TEST(csp.find("frame-ancestors 'none'") != std::string::npos, csp);
            BOOST_TEST(csp.find("unsafe-inline") == std::string::npos, csp);
            BOOST_TEST(page.header("Referrer-Policy") == "no-referrer");
            BOOST_TEST(page.header("X-Content-Type-Options") == "nosniff");
        }
    }
}

BOOST_FIXTURE_TEST_CASE(the_dashboard_runs_under_its_policy_in_a_browser, server_fixture) {
    // Chromium reports every Content-Security-Policy violation on its console, which
    // --enable-logging=stderr writes to its log; the page must work without one.
    const fs::path chromium = "/usr/bin/chromium";
    BOOST_TEST_REQUIRE(fs::exists(chromium),
                       chromium << " is missing; scripts/setup.sh installs Debian's chromium");
    const auto log = dir.path() / "chromium.log";
    const std::string url =
        "http://127.0.0.1:" + std::to_string(server->port()) + "/dashboard#key=" + std::string(operator_key);
    child_process browser(chromium.string(),
                          {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                           "--user-data-dir=" + (dir.path() / "profile").string(), "--dump-dom", url},
                          log);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (browser.running() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    BOOST_TEST_REQUIRE(!browser.running(), "chromium did not finish within 90 s: " << browser.log());
    const std::string text = browser.log();
    // The page's script ran (a blocked script would leave it unloaded) ...
    BOOST_TEST(text.find("data-loaded=\"true\"") != std::string::npos,
               "the page never rendered data: " << text);
    // ... and nothing it needs was refused.
    BOOST_TEST(text.find("Content Security Policy") == std::string::npos, text);
    BOOST_TEST(text.find("Refused to") == std::string::npos, text);
}

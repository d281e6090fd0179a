// Request smuggling corpus: every file in tests/data/framing/ is sent raw to a real jobsd and
// must be answered 400 with the connection closed, never passed on or guessed at.
#define BOOST_TEST_MODULE framing
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/jobsd_process.hpp"

using namespace jobsd::test;
namespace asio = boost::asio;

namespace {

struct raw_answer {
    std::string text;
    bool closed = false;  // the server closed the connection after answering
};

// Sends `bytes` on a fresh connection and reads until the server closes or 3 s pass.
raw_answer send_raw(unsigned short port, const std::string& bytes) {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(s, asio::buffer(bytes));
    raw_answer out;
    char buf[4096];
    for (;;) {
        pollfd pfd{s.native_handle(), POLLIN, 0};
        if (::poll(&pfd, 1, 3000) <= 0) break;  // nothing for 3 s: the connection stays open
        boost::system::error_code ec;
        const auto n = s.read_some(asio::buffer(buf), ec);
        out.text.append(buf, n);
        if (ec == asio::error::eof || ec == asio::error::connection_reset) {
            out.closed = true;
            break;
        }
        if (ec) break;
    }
    return out;
}

struct server_fixture {
    temp_dir dir{"jobsd-framing"};
    std::unique_ptr<jobsd_process> server = start_test_jobsd(dir);
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(every_ambiguous_request_is_refused_and_closed, server_fixture) {
    const auto corpus = std::filesystem::path(required_env("JOBSD_TEST_DATA")) / "framing";
    std::size_t cases = 0;
    for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        const auto answer = send_raw(server->port(), bytes.str());
        BOOST_TEST_CONTEXT(entry.path().filename().string() << " answered: " << answer.text) {
            BOOST_TEST(answer.text.rfind("HTTP/1.", 0) == 0u);
            BOOST_TEST(answer.text.find(" 400 ") != std::string::npos);
            BOOST_TEST(answer.text.find("\"message\"") != std::string::npos);
            BOOST_TEST(answer.closed);
            BOOST_TEST(answer.text.find("\nHTTP/1.") == std::string::npos, "a second response: smuggled");
        }
        ++cases;
    }
    BOOST_TEST(cases >= 10u);
}

BOOST_FIXTURE_TEST_CASE(a_well_framed_request_keeps_the_connection, server_fixture) {
    const auto answer = send_raw(server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST(answer.text.find(" 200 ") != std::string::npos);
    BOOST_TEST(!answer.closed);
}

// completion_batch: a store pass's answers reach each io thread as one handler, in order, and only
// once the pass ends (store/completion.hpp).
#include <boost/test/unit_test.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/completion.hpp"

namespace asio = boost::asio;
using jobsd::store::complete;
using jobsd::store::completion_batch;

namespace {

using answer_handler = asio::any_completion_handler<void(int)>;

answer_handler recorder(asio::io_context& io, std::vector<int>& got) {
    return asio::bind_executor(io.get_executor(), [&got](int v) { got.push_back(v); });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(completion_batch_tests)

// Answered from a store thread inside a batch: nothing is handed over before the batch closes, then
// all of one io_context's answers run in one handler, in the order they were given, and each
// io_context gets its own.
BOOST_AUTO_TEST_CASE(a_pass_hands_each_io_context_its_answers_at_once) {
    asio::io_context a, b;
    std::vector<int> got_a, got_b;
    std::thread store([&] {
        completion_batch pass;
        complete(recorder(a, got_a), 1);
        complete(recorder(b, got_b), 10);
        complete(recorder(a, got_a), 2);
        complete(recorder(a, got_a), 3);
        BOOST_TEST(a.poll() == 0u, "handed over before the pass ended");
    });
    store.join();
    a.restart();  // the poll above found no work and stopped it
    BOOST_TEST(a.poll_one() == 1u);
    BOOST_TEST(got_a == (std::vector<int>{1, 2, 3}), "one handler ran every answer, in order");
    BOOST_TEST(a.poll() == 0u);
    BOOST_TEST(got_b.empty());
    BOOST_TEST(b.poll_one() == 1u);
    BOOST_TEST(got_b == (std::vector<int>{10}));
}

// Outside a batch each answer is handed over on its own, at once.
BOOST_AUTO_TEST_CASE(without_a_pass_each_answer_goes_alone) {
    asio::io_context a;
    std::vector<int> got;
    std::thread store([&] {
        complete(recorder(a, got), 1);
        complete(recorder(a, got), 2);
    });
    store.join();
    BOOST_TEST(a.poll_one() == 1u);
    BOOST_TEST(got == (std::vector<int>{1}));
    BOOST_TEST(a.poll_one() == 1u);
    BOOST_TEST(got == (std::vector<int>{1, 2}));
}

// An answer that throws does not keep the others from running; its exception comes out of the io
// thread's run, as from a handler posted alone.
BOOST_AUTO_TEST_CASE(an_answer_that_throws_leaves_the_others_run) {
    asio::io_context a;
    std::vector<int> got;
    std::thread store([&] {
        completion_batch pass;
        complete(recorder(a, got), 1);
        complete(answer_handler(asio::bind_executor(a.get_executor(),
                                                    [](int) { throw std::runtime_error("answer failed"); })),
                 2);
        complete(recorder(a, got), 3);
    });
    store.join();
    BOOST_CHECK_THROW(a.poll_one(), std::runtime_error);
    BOOST_TEST(got == (std::vector<int>{1, 3}));
}

BOOST_AUTO_TEST_SUITE_END()

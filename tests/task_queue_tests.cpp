// Unit tests of the store threads' queue (part of store_tests): what one pop_run takes, and which
// consumer a push wakes, the one that keeps the readers' hand-over cheap under load.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "store/task_queue.hpp"

using jobsd::store::task_queue;

namespace {

// An item that joins a run (a point read) or not; `id` names it.
struct item {
    int id;
    bool joins;
};
using queue = task_queue<std::unique_ptr<item>>;

auto joining() {
    return [](const std::unique_ptr<item>& i) { return i->joins; };
}

void push(queue& q, int id, bool joins) {
    BOOST_REQUIRE(q.push(std::make_unique<item>(item{id, joins})) == queue::push_result::ok);
}

std::vector<int> ids(const std::vector<std::unique_ptr<item>>& run) {
    std::vector<int> out;
    for (const auto& i : run) out.push_back(i->id);
    return out;
}

// Waits (up to 10 s) until `n` consumers are asleep in pop_run.
void await_sleeping(const queue& q, std::size_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (q.sleeping() != n && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    BOOST_REQUIRE_EQUAL(q.sleeping(), n);
}

// A consumer thread: takes one run, reports it and who took it, and holds it until released;
// then takes one more run (pop_run returns at once when the queue is closed). Its end closes the
// queue and releases it, so a failed check never leaves the thread waiting.
struct consumer {
    explicit consumer(queue& shared, int name) : q(shared) {
        thread = std::thread([this, name] {
            bool returning = false;
            auto first = q.pop_run(8, joining(), returning);
            first_run.set_value({name, ids(first)});
            release.get_future().wait();
            auto second = q.pop_run(8, joining(), returning);
            second_run.set_value({name, ids(second)});
        });
    }
    ~consumer() {
        q.close();
        let_go();
        thread.join();
    }
    void let_go() {
        if (released) return;
        released = true;
        release.set_value();
    }

    queue& q;
    std::promise<std::pair<int, std::vector<int>>> first_run, second_run;
    std::promise<void> release;
    bool released = false;
    std::thread thread;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(task_queue_runs)

BOOST_AUTO_TEST_CASE(a_run_is_joining_items_up_to_the_limit_and_stops_before_another) {
    queue q(100);
    bool returning = false;
    push(q, 1, true);
    push(q, 2, true);
    push(q, 3, false);
    push(q, 4, true);
    push(q, 5, true);
    push(q, 6, true);
    BOOST_TEST(ids(q.pop_run(8, joining(), returning)) == std::vector<int>({1, 2}),
               boost::test_tools::per_element());
    BOOST_TEST(returning);
    BOOST_TEST(ids(q.pop_run(8, joining(), returning)) == std::vector<int>({3}),
               boost::test_tools::per_element());
    BOOST_TEST(!returning);
    BOOST_TEST(ids(q.pop_run(2, joining(), returning)) == std::vector<int>({4, 5}),
               boost::test_tools::per_element());
    BOOST_TEST(ids(q.pop_run(2, joining(), returning)) == std::vector<int>({6}),
               boost::test_tools::per_element());
    q.close();
    BOOST_TEST(q.pop_run(8, joining(), returning).empty());
}

// Two consumers asleep in pop_run, `second` the last to fall asleep. Their ends close the queue.
struct two_asleep {
    two_asleep() {
        await_sleeping(q, 1);
        second.emplace(q, 2);
        await_sleeping(q, 2);
    }
    queue q{100};
    consumer first{q, 1};
    std::optional<consumer> second;
};

// The run a consumer reported, waited for up to 10 s: (consumer, item ids).
std::pair<int, std::vector<int>> reported(std::promise<std::pair<int, std::vector<int>>>& p) {
    auto f = p.get_future();
    BOOST_REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    return f.get();
}

BOOST_FIXTURE_TEST_CASE(a_push_wakes_the_consumer_that_fell_asleep_last, two_asleep) {
    push(q, 10, false);
    BOOST_TEST(reported(second->first_run).second == std::vector<int>({10}),
               boost::test_tools::per_element());
    BOOST_TEST(q.sleeping() == 1u);
    q.close();  // wakes the first, asleep all along, with nothing
    BOOST_TEST(reported(first.first_run).second.empty());
}

BOOST_FIXTURE_TEST_CASE(a_push_during_a_run_of_joining_items_is_left_to_that_consumer, two_asleep) {
    push(q, 10, true);  // wakes the second, which holds its run
    BOOST_TEST(reported(second->first_run).first == 2);
    push(q, 11, true);
    // The first stays asleep: the item waits for the second's return (given time to go wrong).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    BOOST_TEST(q.sleeping() == 1u);
    BOOST_TEST(q.size() == 1u);
    second->let_go();
    BOOST_TEST(reported(second->second_run).second == std::vector<int>({11}),
               boost::test_tools::per_element());
    q.close();
    BOOST_TEST(reported(first.first_run).second.empty());
}

BOOST_FIXTURE_TEST_CASE(a_push_while_the_awake_consumer_holds_another_item_wakes_one_more, two_asleep) {
    push(q, 10, false);  // the second takes it, and may be held up by it
    reported(second->first_run);
    push(q, 11, true);
    BOOST_TEST(reported(first.first_run).second == std::vector<int>({11}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(more_than_a_run_queued_wakes_another_consumer, two_asleep) {
    push(q, 10, true);
    reported(second->first_run);
    for (int i = 0; i < 9; ++i) push(q, 20 + i, true);  // one more than the held consumer's run
    BOOST_TEST(reported(first.first_run).second.size() == 8u);
}

BOOST_AUTO_TEST_SUITE_END()

// Unit tests of the writer's side of the webhook hand-over (part of store_tests): what the writer
// puts is taken whole and in order, a full inbox says that some were left to the table, and puts
// and takes on several threads at once lose nothing.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include "store/delivery_inbox.hpp"

using jobsd::store::board_entry;
using jobsd::store::delivery_inbox;

namespace {

std::vector<std::int64_t> seqs(const std::vector<board_entry>& entries) {
    std::vector<std::int64_t> out;
    for (const auto& e : entries) out.push_back(e.seq);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(delivery_inbox_suite)

BOOST_AUTO_TEST_CASE(takes_what_was_put_in_order_and_is_empty_after) {
    delivery_inbox in;
    in.put({{1, "a"}, {2, "b"}});
    in.put({{3, "a"}});
    auto t = in.take();
    BOOST_TEST((seqs(t.entries) == std::vector<std::int64_t>{1, 2, 3}));
    BOOST_TEST(t.entries[1].dest == "b");
    BOOST_TEST(!t.overflowed);
    auto again = in.take();
    BOOST_TEST(again.entries.empty());
    BOOST_TEST(!again.overflowed);
}

BOOST_AUTO_TEST_CASE(a_full_inbox_leaves_the_rest_to_the_table_and_says_so_once) {
    delivery_inbox in(3);
    in.put({{1, "a"}, {2, "a"}});
    in.put({{3, "a"}, {4, "a"}});  // would make 4: left to the table, a sweep finds them
    in.put({{5, "a"}});
    auto t = in.take();
    BOOST_TEST((seqs(t.entries) == std::vector<std::int64_t>{1, 2, 5}));
    BOOST_TEST(t.overflowed);
    in.put({{6, "a"}});
    auto next = in.take();
    BOOST_TEST((seqs(next.entries) == std::vector<std::int64_t>{6}));
    BOOST_TEST(!next.overflowed);
}

// Two writers' puts and the dispatcher's takes at once: every entry is taken exactly once.
BOOST_AUTO_TEST_CASE(puts_and_takes_from_several_threads_lose_nothing) {
    delivery_inbox in;
    constexpr int per_writer = 20'000;
    std::atomic<bool> done{false};
    std::vector<std::int64_t> got;
    std::thread taker([&] {
        for (;;) {
            const bool last = done.load();
            auto t = in.take();
            for (const auto& e : t.entries) got.push_back(e.seq);
            if (last) break;
        }
    });
    std::thread w1([&] {
        for (int i = 0; i < per_writer; ++i) in.put({{i, "a"}});
    });
    std::thread w2([&] {
        for (int i = 0; i < per_writer; ++i) in.put({{per_writer + i, "b"}});
    });
    w1.join();
    w2.join();
    done = true;
    taker.join();
    std::sort(got.begin(), got.end());
    BOOST_TEST_REQUIRE(got.size() == static_cast<std::size_t>(2 * per_writer));
    for (std::size_t i = 0; i < got.size(); ++i)
        if (got[i] != static_cast<std::int64_t>(i)) BOOST_FAIL("entry " << i << " is " << got[i]);
}

BOOST_AUTO_TEST_SUITE_END()

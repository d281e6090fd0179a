// Unit tests of the in-memory hand-over of webhook deliveries (part of store_tests): what a claim
// takes, what it never takes twice, and when the table must be swept.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "store/delivery_board.hpp"

using jobsd::store::board_entry;
using jobsd::store::claim_request;
using jobsd::store::delivery_board;

namespace {

claim_request request(std::size_t limit, std::size_t per_dest, std::vector<std::string> skip = {}) {
    claim_request r;
    r.limit = limit;
    r.per_dest = per_dest;
    r.skip = std::move(skip);
    return r;
}

// Every pick read back as found, its ids "id<seq>".
std::vector<std::int64_t> take(delivery_board& b, const claim_request& r) {
    auto picked = b.pick(r);
    std::vector<std::pair<std::int64_t, std::string>> ids;
    for (auto seq : picked) ids.emplace_back(seq, "id" + std::to_string(seq));
    b.claimed(picked, ids);
    return picked;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(delivery_board_suite)

BOOST_AUTO_TEST_CASE(picks_oldest_first_bounded_per_destination_and_skipping) {
    delivery_board b;
    b.add({{5, "a"}, {1, "a"}, {2, "b"}, {3, "a"}, {4, "b"}, {6, "c"}});
    BOOST_TEST(b.ready() == 6u);
    BOOST_TEST((take(b, request(3, 2, {"c"})) == std::vector<std::int64_t>{1, 2, 3}));
    BOOST_TEST((take(b, request(10, 1)) == std::vector<std::int64_t>{4, 5, 6}));
    BOOST_TEST(b.ready() == 0u);
    BOOST_TEST(b.held() == 6u);
}

BOOST_AUTO_TEST_CASE(a_held_delivery_is_never_picked_again_until_its_attempt_is_recorded) {
    delivery_board b;
    b.add({{1, "a"}, {2, "a"}});
    BOOST_TEST(take(b, request(10, 10)).size() == 2u);
    // A sweep (or a late hand-over) that sees the rows still pending adds nothing.
    b.add({{1, "a"}, {2, "a"}});
    b.swept({{1, "a"}, {2, "a"}}, 100, 0);
    BOOST_TEST(b.ready() == 0u);
    BOOST_TEST(b.pick(request(10, 10)).empty());
    b.release({"id1"});
    BOOST_TEST(b.held() == 1u);
    b.add({{1, "a"}, {2, "a"}});
    BOOST_TEST((take(b, request(10, 10)) == std::vector<std::int64_t>{1}));
}

BOOST_AUTO_TEST_CASE(rows_no_longer_due_and_failed_reads_are_released) {
    delivery_board b;
    b.add({{1, "a"}, {2, "a"}});
    auto picked = b.pick(request(10, 10));
    b.claimed(picked, {{2, "id2"}});  // 1 was cancelled meanwhile
    BOOST_TEST(b.held() == 1u);
    b.add({{3, "a"}});
    picked = b.pick(request(10, 10));
    BOOST_TEST(b.held() == 2u);
    b.unpick(picked);
    BOOST_TEST(b.held() == 1u);
    BOOST_TEST(b.sweep_due(0));  // what the failed read had is swept from the table again
    BOOST_TEST(b.release_all() == 1u);
    BOOST_TEST(b.held() == 0u);
}

BOOST_AUTO_TEST_CASE(sweeps_at_start_on_demand_when_a_retry_is_due_and_at_their_interval) {
    delivery_board b;
    BOOST_TEST(b.sweep_due(10'000));  // at start nothing is known
    BOOST_TEST(!b.sweep_due(10'001));
    BOOST_TEST(b.sweep_due(10'000 + delivery_board::idle_sweep_ms));  // idle: at the idle interval
    b.add({{1, "a"}});
    const std::int64_t t = 10'000 + delivery_board::idle_sweep_ms;
    BOOST_TEST(!b.sweep_due(t + delivery_board::idle_sweep_ms));  // busy: the longer interval
    BOOST_TEST(b.sweep_due(t + delivery_board::busy_sweep_ms));
    b.retry_at(t + delivery_board::busy_sweep_ms + 5);
    BOOST_TEST(!b.sweep_due(t + delivery_board::busy_sweep_ms + 4));
    BOOST_TEST(b.sweep_due(t + delivery_board::busy_sweep_ms + 5));  // the retry is due
    b.swept({}, 100, t + delivery_board::busy_sweep_ms + 5);
    BOOST_TEST(!b.sweep_due(t + delivery_board::busy_sweep_ms + 6));  // and covered
    b.want_sweep();
    BOOST_TEST(b.sweep_due(t + delivery_board::busy_sweep_ms + 7));
    b.swept({{2, "a"}, {3, "b"}}, 2, t + delivery_board::busy_sweep_ms + 7);  // a full answer
    BOOST_TEST(b.sweep_due(t + delivery_board::busy_sweep_ms + 8));
}

// A backlog is swept less often the larger it is: each sweep reads all of it again.
BOOST_AUTO_TEST_CASE(a_large_backlog_is_swept_less_often) {
    delivery_board b;
    BOOST_TEST(b.sweep_due(0));
    std::vector<board_entry> backlog;
    const auto n = static_cast<std::int64_t>(2 * delivery_board::busy_sweep_rows);  // two intervals more
    for (std::int64_t i = 0; i < n; ++i) backlog.push_back({i, "a"});
    b.add(backlog);
    BOOST_TEST(!b.sweep_due(delivery_board::busy_sweep_ms));
    BOOST_TEST(!b.sweep_due(3 * delivery_board::busy_sweep_ms - 1));
    BOOST_TEST(b.sweep_due(3 * delivery_board::busy_sweep_ms));
    // Drained to under busy_sweep_rows: back to one busy interval.
    b.pick(request(static_cast<std::size_t>(n) - 10, static_cast<std::size_t>(n)));
    BOOST_TEST(!b.sweep_due(4 * delivery_board::busy_sweep_ms - 1));
    BOOST_TEST(b.sweep_due(4 * delivery_board::busy_sweep_ms));
    // Asked for, a sweep comes at once whatever the backlog.
    b.add(backlog);
    b.want_sweep();
    BOOST_TEST(b.sweep_due(4 * delivery_board::busy_sweep_ms + 1));
}

BOOST_AUTO_TEST_CASE(the_ready_set_is_bounded_and_what_it_leaves_is_swept_later) {
    delivery_board b;
    std::vector<board_entry> many;
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(delivery_board::ready_max) + 10; ++i)
        many.push_back({i, "a"});
    b.add(many);
    BOOST_TEST(b.ready() == delivery_board::ready_max);
    BOOST_TEST(b.sweep_due(0));  // the start's sweep finds the same rows, and no room for the rest
    b.swept(many, 2 * delivery_board::ready_max, 0);
    BOOST_TEST(b.ready() == delivery_board::ready_max);
    BOOST_TEST(!b.sweep_due(1));  // no room yet
    b.pick(request(delivery_board::ready_max / 2 + 1, delivery_board::ready_max));
    BOOST_TEST(b.sweep_due(2));  // room again: what was left in the table is looked for
    BOOST_TEST(b.sweep_limit(10) <= 2 * delivery_board::ready_max);
}

BOOST_AUTO_TEST_SUITE_END()

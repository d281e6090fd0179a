// Unit tests of the relay ledger's answers to issue 14 (part of queue_tests): a failing job type
// is paused instead of cycling, and the claims of every job held are renewed in time.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "queue/relay_ledger.hpp"
#include "queue/type_pauses.hpp"

using namespace jobsd;
using std::chrono::milliseconds;

namespace {

using ledger_clock = queue::relay_ledger::clock;
const auto start = ledger_clock::time_point{} + std::chrono::hours(2);

queue::relay_ledger::options options(milliseconds relay_interval = milliseconds(30'000)) {
    queue::relay_ledger::options o;
    o.send_queue_max = 8;
    o.relay_batch = 4;
    o.relay_interval = relay_interval;
    o.retry_delay = milliseconds(1'000);
    o.type_pause_max = milliseconds(4'000);
    o.retire_after = milliseconds(10'000);
    return o;
}

model::job typed(std::string uuid, model::job_type type) {
    model::job j;
    j.uuid = std::move(uuid);
    j.type = type;
    j.input = "{}";
    return j;
}

std::vector<queue::outbox::entry> rows(std::vector<model::job> jobs) {
    std::vector<queue::outbox::entry> out;
    std::int64_t seq = 0;
    for (auto& j : jobs) out.push_back({++seq, std::move(j)});
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// A ledger whose first sweep found an empty outbox.
queue::relay_ledger swept(queue::relay_ledger::options o) {
    queue::relay_ledger l(o);
    l.connected(start);
    auto c = l.next_claim(start);
    l.page_claimed(c->sweep, {}, start);
    return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(type_pauses)

BOOST_AUTO_TEST_CASE(a_pause_doubles_while_failing_and_starts_short_after_a_confirm) {
    queue::type_pauses p({milliseconds(100), milliseconds(350)});
    BOOST_TEST(p.failed("pdf", start));
    BOOST_TEST(!p.failed("pdf", start));  // already paused: one pause, not one per message
    BOOST_TEST(p.paused("pdf"));
    BOOST_TEST(!p.paused("video"));
    BOOST_TEST((p.next_deadline() == start + milliseconds(100)));
    BOOST_TEST(p.release(start + milliseconds(99)).empty());
    BOOST_TEST(p.release(start + milliseconds(100)) == std::vector<std::string>{"pdf"});
    BOOST_TEST(!p.paused("pdf"));
    p.failed("pdf", start);
    BOOST_TEST(p.length("pdf").count() == 200);
    p.release(start + milliseconds(200));
    p.failed("pdf", start);
    BOOST_TEST(p.length("pdf").count() == 350);  // capped
    p.release(start + milliseconds(350));
    p.confirmed("pdf");
    p.failed("pdf", start);
    BOOST_TEST(p.length("pdf").count() == 100);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(relay_ledger_issue_14)

// Item 6 and the nack path of item 4: a returned or nacked message pauses its type; its queued
// jobs are dropped (they stay in the outbox), pages and hand-overs skip it, other types go on.
BOOST_AUTO_TEST_CASE(a_failing_type_is_paused_not_retried_in_a_loop) {
    auto l = swept(options());
    l.hand_over(typed("pdf-1", model::job_type::pdf), start, start, start);
    l.hand_over(typed("pdf-2", model::job_type::pdf), start, start, start);
    l.hand_over(typed("video-1", model::job_type::video), start, start, start);
    const auto sent = l.pop_next();
    BOOST_TEST(sent.uuid == "pdf-1");
    BOOST_TEST(l.failed({sent}, start) == std::vector<std::string>{"pdf"});
    BOOST_TEST(l.paused("pdf"));
    BOOST_TEST(!l.known("pdf-1"));
    BOOST_TEST(!l.known("pdf-2"));  // dropped from the send queue: it waits in the outbox
    BOOST_TEST(l.queued() == 1u);
    BOOST_TEST(l.pop_next().uuid == "video-1");
    BOOST_TEST(!l.hand_over(typed("pdf-3", model::job_type::pdf), start, start, start));
    BOOST_TEST(!l.known("pdf-3"));
    l.request_sweep();
    auto c = l.next_claim(start);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(
        l.page_claimed(c->sweep,
                       rows({typed("pdf-1", model::job_type::pdf), typed("tts-1", model::job_type::tts)}),
                       start) == 1u);
    BOOST_TEST(!l.known("pdf-1"));
    BOOST_TEST(l.known("tts-1"));
    BOOST_TEST(l.paused_types() == std::vector<std::string>{"pdf"});
    // A second failure of the paused type starts nothing new.
    BOOST_TEST(l.failed({sent}, start).empty());
}

BOOST_AUTO_TEST_CASE(the_end_of_a_pause_restarts_the_sweep_from_the_beginning) {
    auto l = swept(options());
    l.hand_over(typed("pdf-1", model::job_type::pdf), start, start, start);
    l.failed({l.pop_next()}, start);
    // A sweep is under way, past the pdf job, when the pause ends.
    l.request_sweep();
    auto c = l.next_claim(start);
    l.page_claimed(c->sweep,
                   rows({typed("a", model::job_type::video), typed("pdf-1", model::job_type::pdf),
                         typed("b", model::job_type::video), typed("c", model::job_type::video)}),
                   start);
    while (l.has_next()) l.pop_next();
    BOOST_TEST(l.sweeping());
    BOOST_TEST(l.release_pauses(start + milliseconds(1'000)) == std::vector<std::string>{"pdf"});
    BOOST_TEST((l.next_deadline() == ledger_clock::time_point::min()));
    auto restart = l.next_claim(start + milliseconds(1'000));
    BOOST_REQUIRE(restart.has_value());
    BOOST_TEST(restart->after_seq == 0);
    BOOST_TEST(restart->sweep != c->sweep);
}

// Item 1: every job held (queued, unconfirmed, being marked) has its claim renewed every half
// relay interval; jobs marked published (retiring) are not.
BOOST_AUTO_TEST_CASE(claims_of_every_held_job_are_renewed_every_half_relay_interval) {
    auto l = swept(options(milliseconds(2'000)));
    BOOST_TEST(!l.next_renewal(start + milliseconds(999)).has_value());
    BOOST_TEST((l.next_deadline() <= start + milliseconds(1'000)));
    for (auto name : {"unconfirmed", "marking", "retiring"}) {
        l.hand_over(typed(name, model::job_type::video), start, start, start);
        l.pop_next();  // sent; "marking" is confirmed and its mark is on its way
    }
    l.marked({{"retiring", 1}}, true, start);
    l.hand_over(typed("queued", model::job_type::video), start, start, start);
    auto held = l.next_renewal(start + milliseconds(1'000));
    BOOST_REQUIRE(held.has_value());
    BOOST_TEST(sorted(*held) == (std::vector<std::string>{"marking", "queued", "unconfirmed"}));
    BOOST_TEST(!l.next_renewal(start + milliseconds(1'999)).has_value());
    BOOST_TEST(l.next_renewal(start + milliseconds(2'000)).has_value());
    l.disconnected({});
    BOOST_TEST(!l.next_renewal(start + milliseconds(9'000)).has_value());
}

// Item 1: a hand-over that waited in the mailbox longer than half a relay interval is left to
// the relay, whose page renews its claim, rather than sent on a claim that may have lapsed.
BOOST_AUTO_TEST_CASE(a_hand_over_older_than_half_a_relay_interval_goes_to_the_relay) {
    auto l = swept(options(milliseconds(2'000)));
    BOOST_TEST(
        !l.hand_over(typed("late", model::job_type::video), start, start, start + milliseconds(1'000)));
    BOOST_TEST(!l.known("late"));
    BOOST_TEST(l.hand_over(typed("prompt", model::job_type::video), start, start, start + milliseconds(999)));
}

// Item 1: however late the store answers renewals, a job whose claim may have lapsed (a lease of
// 2 s, sent no later than 0.5 s before its end) or was taken over is not sent: it is dropped from
// the send queue for the relay, whose page claims it again unless another instance holds it.
BOOST_AUTO_TEST_CASE(a_job_whose_claim_may_have_lapsed_or_was_lost_is_not_sent) {
    auto o = options(milliseconds(1'000));
    o.claim_lease = milliseconds(2'000);
    auto l = swept(o);
    const auto late = start + milliseconds(1'500);
    l.hand_over(typed("old", model::job_type::video), start, start, start);
    l.hand_over(typed("young", model::job_type::video), start + milliseconds(1'000), late, late);
    BOOST_TEST(l.drop_lapsed(late) == 1u);  // created at start: its lease may end at start + 2 s
    BOOST_TEST(!l.known("old"));
    BOOST_TEST(l.next().uuid == "young");

    // A renewal asked at 1.6 s: the store renewed "young" and "kept", not "taken" (another
    // instance's now), so "taken" is never sent while "kept" outlives its first claim.
    l.hand_over(typed("kept", model::job_type::video), late, late, late);
    l.hand_over(typed("taken", model::job_type::video), late, late, late);
    const auto asked_at = start + milliseconds(1'600);
    BOOST_TEST(l.renewed({"young", "kept", "taken"}, {"young", "kept"}, asked_at) == 1u);
    BOOST_TEST(l.renewed({"taken"}, {}, asked_at) == 0u);  // lost once, counted once
    const auto after = start + milliseconds(3'000);        // past 1.5 s + 2 s - 0.5 s for the first claims
    BOOST_TEST(l.drop_lapsed(after) == 0u);
    BOOST_TEST(l.pop_next().uuid == "young");
    BOOST_TEST(l.pop_next().uuid == "kept");
    BOOST_TEST(l.drop_lapsed(after) == 1u);
    BOOST_TEST(!l.has_next());
    BOOST_TEST(!l.known("taken"));
    // An answer to a renewal asked before a job's latest claim does not shorten that claim:
    // created at 3 s, it is sendable until 4.5 s.
    l.hand_over(typed("newer", model::job_type::video), after, after, after);
    BOOST_TEST(l.renewed({"newer"}, {}, asked_at) == 0u);
    BOOST_TEST(l.drop_lapsed(start + milliseconds(4'499)) == 0u);
    BOOST_TEST(l.drop_lapsed(start + milliseconds(4'500)) == 1u);
}

// A dropped job is older than the rows the running sweep reads next: the next page is claimed
// from the beginning, so it is sent before them (a backlog would otherwise be swept to its end
// first, and the dropped job overtaken by everything newer).
BOOST_AUTO_TEST_CASE(a_dropped_job_is_claimed_again_before_the_sweep_goes_on) {
    auto o = options(milliseconds(1'000));
    o.claim_lease = milliseconds(2'000);
    auto l = swept(o);
    l.hand_over(typed("old", model::job_type::video), start, start, start);
    l.request_sweep();
    const auto paged = start + milliseconds(1'400);
    auto claim = l.next_claim(paged);
    BOOST_REQUIRE(claim.has_value());
    std::vector<model::job> newer;
    for (auto name : {"n1", "n2", "n3", "n4"}) {
        newer.push_back(typed(name, model::job_type::video));
        newer.back().created_ms = 5;
    }
    auto page = rows(std::move(newer));
    for (auto& e : page) e.seq += 10;
    BOOST_TEST(l.page_claimed(claim->sweep, page, paged) == 4u);
    BOOST_TEST(l.cursor() == 14);
    BOOST_TEST(l.drop_lapsed(start + milliseconds(1'500)) == 1u);  // "old", created first, is next
    while (l.has_next()) l.pop_next();
    auto next = l.next_claim(start + milliseconds(1'600));
    BOOST_REQUIRE(next.has_value());
    BOOST_TEST(next->after_seq == 0);
}

// A job sent on a live claim whose mark is answered only after that claim may have lapsed (a
// database stalled longer than the lease) may have been claimed and sent by another instance
// too: such marks are counted, marks answered within the lease of the last confirmed claim are
// not, and without leases none is.
BOOST_AUTO_TEST_CASE(a_mark_answered_after_the_claim_may_have_lapsed_is_counted) {
    auto o = options(milliseconds(1'000));
    o.claim_lease = milliseconds(2'000);
    auto l = swept(o);
    for (auto name : {"prompt", "renewed", "stalled", "lost"}) {
        l.hand_over(typed(name, model::job_type::video), start, start, start);
        l.pop_next();
    }
    BOOST_TEST(l.marked({{"prompt", 1}}, true, start + milliseconds(1'999)) == 0u);
    const auto renewal = start + milliseconds(1'000);
    BOOST_TEST(l.renewed({"renewed", "stalled", "lost"}, {"renewed", "stalled"}, renewal) == 1u);
    BOOST_TEST(l.marked({{"renewed", 1}}, true, renewal + milliseconds(1'999)) == 0u);
    BOOST_TEST(l.marked({{"stalled", 1}, {"lost", 1}}, true, renewal + milliseconds(2'000)) == 2u);
    BOOST_TEST(l.marked({{"gone", 1}}, true, renewal + milliseconds(9'000)) == 0u);  // not held: not counted

    auto unleased = swept(options(milliseconds(1'000)));
    unleased.hand_over(typed("a", model::job_type::video), start, start, start);
    unleased.pop_next();
    BOOST_TEST(unleased.marked({{"a", 1}}, true, start + std::chrono::hours(1)) == 0u);
}

// Without leases (one instance, SQLite) nothing lapses, however long a job waits.
BOOST_AUTO_TEST_CASE(without_leases_no_job_lapses) {
    auto l = swept(options(milliseconds(1'000)));
    l.hand_over(typed("a", model::job_type::video), start, start, start);
    BOOST_TEST(l.drop_lapsed(start + std::chrono::hours(1)) == 0u);
    BOOST_TEST(l.has_next());
}

BOOST_AUTO_TEST_SUITE_END()

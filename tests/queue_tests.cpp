// Unit tests of queue/ without a broker: confirm bookkeeping, the job message contract, the
// relay ledger, the publisher's mailbox, and the AMQP session's reconnect plan and loop.
#define BOOST_TEST_MODULE queue
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "queue/amqp_bytes.hpp"
#include "queue/amqp_session.hpp"
#include "queue/confirm_tracker.hpp"
#include "queue/job_message.hpp"
#include "queue/publisher_mailbox.hpp"
#include "queue/reconnect_plan.hpp"
#include "queue/relay_ledger.hpp"

using namespace jobsd;
using queue::confirm_tracker;
using queue::job_message;

namespace {

job_message msg(std::string uuid) {
    return {std::move(uuid), "video", "{}", 0, 1, std::nullopt, {}};
}

std::vector<std::string> ids(const std::vector<job_message>& v) {
    std::vector<std::string> out;
    for (const auto& m : v) out.push_back(m.uuid);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tags_start_at_one_and_count_up) {
    confirm_tracker t;
    BOOST_TEST(t.on_publish(msg("a")) == 1u);
    BOOST_TEST(t.on_publish(msg("b")) == 2u);
    BOOST_TEST(t.outstanding() == 2u);
}

BOOST_AUTO_TEST_CASE(single_ack_settles_only_its_tag) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    auto s = t.on_ack(2, false);
    BOOST_TEST(ids(s.confirmed) == std::vector<std::string>{"b"});
    BOOST_TEST(t.outstanding() == 2u);
    s = t.on_ack(1, false);
    BOOST_TEST(ids(s.confirmed) == std::vector<std::string>{"a"});
    // A repeated ack for a settled tag changes nothing.
    BOOST_TEST(t.on_ack(2, false).confirmed.empty());
    BOOST_TEST(t.outstanding() == 1u);
}

BOOST_AUTO_TEST_CASE(multiple_ack_settles_everything_up_to_the_tag) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c", "d"}) t.on_publish(msg(id));
    t.on_ack(2, false);
    auto s = t.on_ack(3, true);
    BOOST_TEST(ids(s.confirmed) == (std::vector<std::string>{"a", "c"}));
    BOOST_TEST(t.outstanding() == 1u);
    BOOST_TEST(ids(t.on_ack(4, true).confirmed) == std::vector<std::string>{"d"});
    BOOST_TEST(t.outstanding() == 0u);
}

BOOST_AUTO_TEST_CASE(nack_fails_and_multiple_nack_fails_a_range) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    auto s = t.on_nack(2, true);
    BOOST_TEST(ids(s.failed) == (std::vector<std::string>{"a", "b"}));
    BOOST_TEST(s.confirmed.empty());
    BOOST_TEST(t.outstanding() == 1u);
}

BOOST_AUTO_TEST_CASE(returned_message_is_a_failure_even_when_acked) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    t.on_return("b");
    auto s = t.on_ack(3, true);
    BOOST_TEST(ids(s.confirmed) == (std::vector<std::string>{"a", "c"}));
    BOOST_TEST(ids(s.failed) == std::vector<std::string>{"b"});
}

BOOST_AUTO_TEST_CASE(reset_hands_back_the_unsettled_oldest_first_and_restarts_tags) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    t.on_ack(2, false);
    BOOST_TEST(ids(t.reset()) == (std::vector<std::string>{"a", "c"}));
    BOOST_TEST(t.outstanding() == 0u);
    BOOST_TEST(t.on_publish(msg("d")) == 1u);
    BOOST_TEST(t.on_ack(7, false).confirmed.empty());  // a tag never issued
}

BOOST_AUTO_TEST_CASE(job_message_follows_the_contract) {
    model::job j;
    j.uuid = "01900000-0000-7000-8000-000000000001";
    j.account_id = "acc \"q\"";
    j.source_id = "p1";
    j.type = model::job_type::ai_talking_video;
    j.session_id = "s1";
    j.version = 2;
    j.input = R"({"job_type":"ai_talking_video","values":{"a":"b"},"x":[1,2]})";
    j.created_ms = 1776340982123;
    auto m = queue::make_job_message(j);
    BOOST_TEST(m.uuid == j.uuid);
    BOOST_TEST(m.job_type == "ai_talking_video");
    auto body = boost::json::parse(m.body).as_object();
    BOOST_TEST(body.at("uuid").as_string() == j.uuid);
    BOOST_TEST(body.at("job_type").as_string() == "ai_talking_video");
    BOOST_TEST(body.at("account_id").as_string() == "acc \"q\"");
    BOOST_TEST(body.at("source_id").as_string() == "p1");
    BOOST_TEST(body.at("session_id").as_string() == "s1");
    BOOST_TEST(body.at("version").is_int64());  // 2, not 2E0: typed consumers read an integer
    BOOST_TEST(body.at("version").as_int64() == 2);
    BOOST_TEST(body.at("input") == boost::json::parse(j.input));
    BOOST_TEST(body.at("created_at").as_string() == "2026-04-16T12:03:02.123Z");
    // The contract version (3: batches of events) and the attempt; no deadline, so no expires_at.
    BOOST_TEST(body.at("contract").as_int64() == 3);
    BOOST_TEST(body.at("attempt").as_int64() == 1);
    BOOST_TEST(!body.contains("expires_at"));
    BOOST_TEST(body.at("priority").as_int64() == 3);  // normal unless the client said otherwise
    BOOST_TEST(body.size() == 11u);

    j.version = 2.5;
    BOOST_TEST(boost::json::parse(queue::make_job_message(j).body).as_object().at("version").as_double() ==
               2.5);
    j.version.reset();
    BOOST_TEST(boost::json::parse(queue::make_job_message(j).body).as_object().at("version").is_null());
}

// The properties of a job message: the contract header always, the traceparent header (a long
// string, not in the body) only for a job with a trace.
BOOST_AUTO_TEST_CASE(job_message_properties_carry_the_traceparent) {
    model::job j;
    j.uuid = "01900000-0000-7000-8000-000000000001";
    j.input = "{}";
    const auto header = [](const amqp_basic_properties_t& p,
                           std::string_view key) -> const amqp_field_value_t* {
        for (int i = 0; i < p.headers.num_entries; ++i) {
            const auto& e = p.headers.entries[i];
            if (jobsd::queue::view(e.key) == key) return &e.value;
        }
        return nullptr;
    };
    {
        const auto m = queue::make_job_message(j);
        queue::job_message_properties props(m, 0);
        amqp_basic_properties_t p{};
        props.apply(p);
        BOOST_TEST(p.headers.num_entries == 1);
        BOOST_REQUIRE(header(p, "x-jobsd-contract"));
        BOOST_TEST(!header(p, "traceparent"));
    }
    j.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const auto m = queue::make_job_message(j);
    BOOST_TEST(m.body.find("traceparent") == std::string::npos);
    queue::job_message_properties props(m, 0);
    amqp_basic_properties_t p{};
    props.apply(p);
    BOOST_TEST(p.headers.num_entries == 2);
    BOOST_TEST(header(p, "x-jobsd-contract")->value.i32 == 3);
    const auto* trace = header(p, "traceparent");
    BOOST_REQUIRE(trace);
    BOOST_TEST(trace->kind == AMQP_FIELD_KIND_UTF8);
    BOOST_TEST(jobsd::queue::text(trace->value.bytes) == j.traceparent);
}

// ---- relay ledger ---------------------------------------------------------------------------

namespace {

using ledger_clock = queue::relay_ledger::clock;
using std::chrono::milliseconds;

queue::relay_ledger::options small_ledger() {
    queue::relay_ledger::options o;
    o.send_queue_max = 4;
    o.relay_batch = 2;
    o.relay_interval = milliseconds(30'000);
    o.retry_delay = milliseconds(1'000);
    o.retire_after = milliseconds(10'000);
    return o;
}

model::job job(std::string uuid, std::int64_t created_ms = 0) {
    model::job j;
    j.uuid = std::move(uuid);
    j.type = model::job_type::video;
    j.input = "{}";
    j.created_ms = created_ms;
    return j;
}

std::vector<queue::outbox::entry> page(std::initializer_list<std::pair<std::int64_t, const char*>> rows) {
    std::vector<queue::outbox::entry> out;
    for (const auto& [seq, uuid] : rows) out.push_back({seq, job(uuid, seq)});
    return out;
}

// Sends everything queued, in the ledger's order.
std::vector<std::string> drain(queue::relay_ledger& l) {
    std::vector<std::string> out;
    while (l.has_next()) out.push_back(l.pop_next().uuid);
    return out;
}

const auto t0 = ledger_clock::time_point{} + std::chrono::hours(1);

// A small ledger connected at t0 whose first sweep found an empty outbox.
queue::relay_ledger swept_at_t0() {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    auto first = l.next_claim(t0);
    l.page_claimed(first->sweep, page({}), t0);
    return l;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ledger_sends_a_job_once_whichever_path_sees_it_first) {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    BOOST_TEST(l.hand_over(job("a"), t0, t0, t0));
    BOOST_TEST(!l.hand_over(job("a"), t0, t0, t0));  // handed over twice: known
    auto claim = l.next_claim(t0);
    BOOST_REQUIRE(claim.has_value());
    // The page holds "a" (being sent by the fast path) and "b" (deferred): only "b" is new.
    BOOST_TEST(l.page_claimed(claim->sweep, page({{1, "a"}, {2, "b"}}), t0) == 1u);
    BOOST_TEST(drain(l) == (std::vector<std::string>{"a", "b"}));
    // And the fast path hands over a job a page already queued: dropped.
    BOOST_TEST(!l.hand_over(job("b"), t0, t0, t0));
}

BOOST_AUTO_TEST_CASE(ledger_sweeps_page_by_page_and_once_per_interval) {
    queue::relay_ledger l(small_ledger());
    BOOST_TEST(!l.next_claim(t0).has_value());  // not connected
    l.connected(t0);
    auto first = l.next_claim(t0);
    BOOST_REQUIRE(first.has_value());
    BOOST_TEST(first->after_seq == 0);
    BOOST_TEST(first->limit == 2u);
    BOOST_TEST(!l.next_claim(t0).has_value());  // one claim in flight at a time
    l.page_claimed(first->sweep, page({{3, "a"}, {7, "b"}}), t0);
    BOOST_TEST(l.cursor() == 7);
    // The relayed queue is full (a page): no claim until it has room.
    BOOST_TEST(!l.next_claim(t0).has_value());
    drain(l);
    auto second = l.next_claim(t0);
    BOOST_REQUIRE(second.has_value());
    BOOST_TEST(second->after_seq == 7);
    l.page_claimed(second->sweep, page({{9, "c"}}), t0);  // short: the sweep is over
    BOOST_TEST(!l.sweeping());
    BOOST_TEST(!l.next_claim(t0 + milliseconds(29'999)).has_value());
    // Held claims are renewed every half interval; after that the safety sweep is next.
    BOOST_TEST((l.next_deadline() == t0 + milliseconds(15'000)));
    BOOST_TEST(l.next_renewal(t0 + milliseconds(15'000)).has_value());
    BOOST_TEST((l.next_deadline() == t0 + milliseconds(30'000)));
    auto safety = l.next_claim(t0 + milliseconds(30'000));
    BOOST_REQUIRE(safety.has_value());
    BOOST_TEST(safety->after_seq == 0);
}

BOOST_AUTO_TEST_CASE(ledger_finishes_a_sweep_before_starting_the_requested_one) {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    auto first = l.next_claim(t0);
    l.page_claimed(first->sweep, page({{1, "a"}, {2, "b"}}), t0);
    drain(l);
    l.request_sweep();  // a job was deferred meanwhile
    auto next = l.next_claim(t0);
    BOOST_REQUIRE(next.has_value());
    BOOST_TEST(next->after_seq == 2);  // not back to 0: the running sweep goes on
    l.page_claimed(next->sweep, page({}), t0);
    auto again = l.next_claim(t0);  // the requested sweep, from the start
    BOOST_REQUIRE(again.has_value());
    BOOST_TEST(again->after_seq == 0);
}

BOOST_AUTO_TEST_CASE(ledger_keeps_marked_jobs_known_until_they_retire) {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    l.hand_over(job("a"), t0, t0, t0);
    l.hand_over(job("b"), t0, t0, t0);
    drain(l);
    l.marked({{"a", 1}}, true, t0);
    l.marked({{"b", 1}}, false, t0 + milliseconds(1));  // still unpublished: forgotten, swept again
    BOOST_TEST(l.known("a"));
    BOOST_TEST(!l.known("b"));
    // A page read from a snapshot older than the mark still lists "a": skipped while retiring.
    auto claim = l.next_claim(t0 + milliseconds(2));
    BOOST_REQUIRE(claim.has_value());
    BOOST_TEST(l.page_claimed(claim->sweep, page({{1, "a"}, {2, "b"}}), t0 + milliseconds(9'999)) == 1u);
    BOOST_TEST(drain(l) == std::vector<std::string>{"b"});
    l.marked({}, true, t0 + milliseconds(10'000));
    BOOST_TEST(!l.known("a"));
}

// A retry keeps its job's uuid: the next attempt is a message of its own, sent while the earlier
// one is unconfirmed or retiring, and the earlier one's mark leaves it held.
BOOST_AUTO_TEST_CASE(ledger_sends_a_retry_while_the_earlier_attempt_is_held_or_retiring) {
    auto l = swept_at_t0();
    auto first = job("a");
    BOOST_TEST(l.hand_over(first, t0, t0, t0));
    const auto sent = l.pop_next();  // unconfirmed
    BOOST_TEST(sent.attempt == 1);
    auto second = job("a");
    second.attempt = 2;
    BOOST_TEST(l.hand_over(second, t0, t0, t0 + milliseconds(1)));   // cancelled and retried meanwhile
    BOOST_TEST(!l.hand_over(second, t0, t0, t0 + milliseconds(1)));  // that attempt is known now
    l.marked({{"a", 1}}, true, t0 + milliseconds(2));                // the first attempt's confirm
    BOOST_TEST(l.known("a", 2));
    BOOST_REQUIRE(l.has_next());
    const auto next = l.pop_next();
    BOOST_TEST(next.uuid == "a");
    BOOST_TEST(next.attempt == 2);
    // A third attempt handed over while both earlier ones retire is sent too.
    l.marked({{"a", 2}}, true, t0 + milliseconds(3));
    auto third = job("a");
    third.attempt = 3;
    BOOST_TEST(l.hand_over(third, t0, t0, t0 + milliseconds(4)));
    // A page of the outbox (the third attempt waits there) skips it: it is held.
    auto claim = l.next_claim(t0 + milliseconds(30'000));
    BOOST_REQUIRE(claim.has_value());
    auto row = page({{1, "a"}});
    row.front().job.attempt = 3;
    BOOST_TEST(l.page_claimed(claim->sweep, row, t0 + milliseconds(30'000)) == 0u);
}

// A claim asked before a mark was answered may have read the row before the mark committed;
// a slow store may answer it long after retire_after. The jobs marked after it was asked stay
// known until its page is in; one marked before it was asked retires on time.
BOOST_AUTO_TEST_CASE(ledger_keeps_a_marked_job_known_while_an_older_claim_is_in_flight) {
    auto l = swept_at_t0();
    l.hand_over(job("before"), t0, t0, t0);
    l.hand_over(job("after"), t0, t0, t0);
    drain(l);
    l.marked({{"before", 1}}, true, t0);
    l.request_sweep();
    auto claim = l.next_claim(t0 + milliseconds(1));
    BOOST_REQUIRE(claim.has_value());
    l.marked({{"after", 1}}, true, t0 + milliseconds(2));
    l.marked({}, true, t0 + milliseconds(20'000));
    BOOST_TEST(!l.known("before"));
    BOOST_TEST(l.known("after"));
    BOOST_TEST(l.page_claimed(claim->sweep, page({{2, "after"}}), t0 + milliseconds(25'000)) == 0u);
    BOOST_TEST(!l.has_next());
    l.marked({}, true, t0 + milliseconds(25'001));
    BOOST_TEST(!l.known("after"));
}

BOOST_AUTO_TEST_CASE(ledger_sends_a_failed_job_again_from_the_outbox_after_its_type_pause) {
    auto l = swept_at_t0();
    l.hand_over(job("a"), t0, t0, t0);
    auto sent = l.pop_next();
    BOOST_TEST(l.failed({sent}, t0) == std::vector<std::string>{"video"});
    BOOST_TEST(!l.known("a"));  // left in the outbox
    BOOST_TEST(l.release_pauses(t0 + milliseconds(999)).empty());
    BOOST_TEST(!l.next_claim(t0 + milliseconds(999)).has_value());
    BOOST_TEST(l.release_pauses(t0 + milliseconds(1'000)) == std::vector<std::string>{"video"});
    auto again = l.next_claim(t0 + milliseconds(1'000));  // a sweep from the start finds it
    BOOST_REQUIRE(again.has_value());
    BOOST_TEST(again->after_seq == 0);
    BOOST_TEST(l.page_claimed(again->sweep, page({{1, "a"}}), t0 + milliseconds(1'000)) == 1u);
    BOOST_TEST(drain(l) == std::vector<std::string>{"a"});
}

BOOST_AUTO_TEST_CASE(ledger_forgets_in_flight_work_on_disconnect_and_ignores_stale_pages) {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    auto stale = l.next_claim(t0);
    l.hand_over(job("unconfirmed"), t0, t0, t0);
    l.hand_over(job("marking"), t0, t0, t0);
    std::vector<job_message> sent;
    while (l.has_next()) sent.push_back(l.pop_next());
    l.marked({{"marking", 1}}, true, t0);  // confirmed: its mark is in the store's hands
    l.hand_over(job("queued"), t0, t0, t0);
    l.disconnected({sent[0]});
    BOOST_TEST(!l.known("queued"));
    BOOST_TEST(!l.known("unconfirmed"));
    BOOST_TEST(l.known("marking"));
    BOOST_TEST(l.queued() == 0u);
    l.connected(t0);
    auto fresh = l.next_claim(t0);
    BOOST_REQUIRE(fresh.has_value());
    BOOST_TEST(fresh->sweep != stale->sweep);
    BOOST_TEST(l.page_claimed(stale->sweep, page({{1, "x"}}), t0) == 0u);  // given up: ignored
    BOOST_TEST(l.claim_in_flight());
    BOOST_TEST(l.page_claimed(fresh->sweep, page({{1, "unconfirmed"}, {2, "marking"}}), t0) == 1u);
}

BOOST_AUTO_TEST_CASE(ledger_claims_the_same_page_again_after_a_store_failure) {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    auto first = l.next_claim(t0);
    l.page_claimed(first->sweep, page({{1, "a"}, {4, "b"}}), t0);
    drain(l);
    auto second = l.next_claim(t0);
    l.claim_failed(second->sweep, t0);
    BOOST_TEST(l.sweeping());
    BOOST_TEST(!l.next_claim(t0 + milliseconds(999)).has_value());
    BOOST_TEST((l.next_deadline() == t0 + milliseconds(1'000)));
    auto retry = l.next_claim(t0 + milliseconds(1'000));
    BOOST_REQUIRE(retry.has_value());
    BOOST_TEST(retry->after_seq == 4);
    BOOST_TEST(retry->sweep == second->sweep);
}

BOOST_AUTO_TEST_CASE(ledger_gives_relay_pages_their_share_while_the_hand_over_is_full) {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    for (int i = 0; i < 4; ++i) l.hand_over(job("new" + std::to_string(i), 5'000 + i), t0, t0, t0);
    BOOST_TEST(l.hand_over_room() == 0u);
    auto claim = l.next_claim(t0);
    BOOST_REQUIRE(claim.has_value());  // a full hand-over does not hold the relay back
    l.page_claimed(claim->sweep, page({{1, "old1"}, {2, "old2"}}), t0);
    // Oldest first: the deferred jobs of the page were created before the handed-over ones.
    BOOST_TEST(drain(l) == (std::vector<std::string>{"old1", "old2", "new0", "new1", "new2", "new3"}));
}

// A slow database: the relayed queue runs empty while the next page is on its way. Before, the
// newest handed-over jobs were sent meanwhile, ahead of a backlog seconds older (the two-instance
// overload case saw 1 % of its jobs overtaken by jobs 19 s newer on a loaded machine).
BOOST_AUTO_TEST_CASE(ledger_holds_newer_hand_overs_while_a_backlog_page_is_on_its_way) {
    queue::relay_ledger l(small_ledger());  // pages of 2
    l.connected(t0);
    auto claim = l.next_claim(t0);
    BOOST_REQUIRE(claim.has_value());
    BOOST_TEST(l.page_claimed(claim->sweep, page({{1, "old1"}, {2, "old2"}}), t0) == 2u);
    BOOST_TEST(l.backlog());
    BOOST_TEST(l.hand_over(job("new0", 5'000), t0, t0, t0));
    BOOST_TEST(l.pop_next().uuid == "old1");
    auto next = l.next_claim(t0);  // room for a page: claimed while old2 is sent
    BOOST_REQUIRE(next.has_value());
    BOOST_TEST(l.pop_next().uuid == "old2");
    BOOST_TEST(!l.has_next());  // new0 waits for the page: it may hold jobs older than new0
    l.page_claimed(next->sweep, page({{3, "old3"}, {4, "old4"}}), t0);
    BOOST_TEST(drain(l) == (std::vector<std::string>{"old3", "old4", "new0"}));
    // A job created before the last page's newest does not wait; nor does anything once a claim
    // failed (no page is coming) or a short page ended the sweep.
    auto third = l.next_claim(t0);
    BOOST_REQUIRE(third.has_value());
    BOOST_TEST(l.hand_over(job("early", 4), t0, t0, t0));
    BOOST_TEST(l.hand_over(job("new1", 6'000), t0, t0, t0));
    BOOST_TEST(l.has_next());
    BOOST_TEST(l.pop_next().uuid == "early");
    BOOST_TEST(!l.has_next());
    l.claim_failed(third->sweep, t0);
    BOOST_TEST(l.has_next());
    auto retry = l.next_claim(t0 + milliseconds(1'000));
    BOOST_REQUIRE(retry.has_value());
    BOOST_TEST(!l.has_next());
    l.page_claimed(retry->sweep, page({{6, "old6"}}), t0);
    BOOST_TEST(!l.backlog());
    BOOST_TEST(drain(l) == (std::vector<std::string>{"old6", "new1"}));
}

BOOST_AUTO_TEST_CASE(ledger_sees_no_backlog_in_a_full_page_of_jobs_it_holds) {
    queue::relay_ledger l(small_ledger());
    l.connected(t0);
    BOOST_TEST(l.hand_over(job("held1", 1), t0, t0, t0));
    BOOST_TEST(l.hand_over(job("held2", 2'000), t0, t0, t0));
    auto claim = l.next_claim(t0);
    BOOST_REQUIRE(claim.has_value());
    // Full, but every job on it is in the hand-over already: the outbox may hold nothing more.
    BOOST_TEST(l.page_claimed(claim->sweep, page({{1, "held1"}, {2, "held2"}}), t0) == 0u);
    BOOST_TEST(!l.backlog());
    auto next = l.next_claim(t0);
    BOOST_REQUIRE(next.has_value());
    BOOST_TEST(drain(l) == (std::vector<std::string>{"held1", "held2"}));  // nothing waits
}

BOOST_AUTO_TEST_CASE(ledger_leaves_a_job_that_waited_too_long_to_the_relay) {
    auto l = swept_at_t0();
    BOOST_TEST(!l.sweeping());
    // Five seconds in the mailbox: a page may have sent it, had it marked and retired meanwhile.
    BOOST_TEST(!l.hand_over(job("late"), t0, t0, t0 + milliseconds(5'000)));
    BOOST_TEST(!l.known("late"));
    BOOST_TEST(l.next_claim(t0 + milliseconds(5'000)).has_value());  // the relay will find it
    BOOST_TEST(l.hand_over(job("prompt"), t0, t0, t0 + milliseconds(4'999)));
}

// ---- publisher mailbox --------------------------------------------------------------------

namespace {

bool raised(const queue::wakeup& w) {
    pollfd f{w.fd(), POLLIN, 0};
    return ::poll(&f, 1, 0) == 1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(mailbox_is_bounded_closed_while_away_and_asks_for_a_sweep_when_it_refuses) {
    queue::publisher_mailbox box(2);
    const auto now = std::chrono::steady_clock::now();
    BOOST_TEST(!box.offer(job("away"), now));  // closed until connected
    BOOST_TEST(box.take(10).sweep);
    box.set_open(true);
    BOOST_TEST(!raised(box.waker()));
    BOOST_TEST(box.offer(job("a"), now));
    BOOST_TEST(raised(box.waker()));  // the first job wakes the publisher
    box.waker().clear();
    BOOST_TEST(box.offer(job("b"), now));
    BOOST_TEST(!raised(box.waker()));       // the publisher is awake already
    BOOST_TEST(!box.offer(job("c"), now));  // full
    auto got = box.take(1);
    BOOST_TEST(got.sweep);
    BOOST_REQUIRE(got.jobs.size() == 1u);
    BOOST_TEST(got.jobs.front().job.uuid == "a");
    box.post(queue::publisher_mailbox::mark_answer{{{"a", 1}}, {}});
    BOOST_TEST(raised(box.waker()));  // answers always wake it
    box.set_open(false);              // disconnected: "b" stays in the outbox for the relay
    got = box.take(10);
    BOOST_TEST(got.jobs.empty());
    BOOST_TEST(got.marks.size() == 1u);
    BOOST_TEST(!got.sweep);
}

// ---- the AMQP session, without a broker -----------------------------------------------------

BOOST_AUTO_TEST_CASE(url_order_parses_its_two_names) {
    BOOST_TEST((queue::parse_url_order("spread") == queue::amqp_url_order::spread));
    BOOST_TEST((queue::parse_url_order("in_order") == queue::amqp_url_order::in_order));
    BOOST_TEST(!queue::parse_url_order("random").has_value());
}

BOOST_AUTO_TEST_CASE(reconnect_plan_rotates_the_urls_and_backs_off_exponentially) {
    queue::reconnect_plan in_order(3, queue::amqp_url_order::in_order, 7, milliseconds(200),
                                   milliseconds(1'000));
    BOOST_TEST(in_order.url() == 0u);
    std::vector<long> waits;
    std::vector<std::size_t> urls;
    for (int i = 0; i < 5; ++i) {
        waits.push_back(in_order.failed().count());
        urls.push_back(in_order.url());
    }
    BOOST_TEST(waits == (std::vector<long>{200, 400, 800, 1000, 1000}));
    BOOST_TEST(urls == (std::vector<std::size_t>{1, 2, 0, 1, 2}));
    in_order.connected();
    BOOST_TEST(in_order.failed().count() == 200);

    queue::reconnect_plan spread(3, queue::amqp_url_order::spread, 7, milliseconds(200), milliseconds(1'000));
    BOOST_TEST(spread.url() == 1u);  // 7 mod 3: where a random start landed
    spread.failed();
    BOOST_TEST(spread.url() == 2u);
}

namespace {

// A session user that never gets a connection: records the failures, stops after `give_up`.
struct refused_user final : queue::amqp_session_user {
    std::vector<std::string> failures;
    std::size_t give_up = 3;
    std::atomic<bool> stop{false};
    bool connected = false;

    void on_connected(queue::amqp_connection&) override { connected = true; }
    queue::amqp_step step(queue::amqp_connection&, queue::amqp_step::clock::time_point) override {
        return {true};
    }
    void on_disconnected(std::string_view why) override { failures.emplace_back(why); }
    bool stopping() const override { return stop || failures.size() >= give_up; }
};

// A loopback port nobody listens on: bound, then closed.
std::string refused_url() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return "amqp://guest:guest@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
}

queue::amqp_session_options refused_options() {
    queue::amqp_session_options o;
    o.name = "test";
    o.urls = {refused_url()};
    o.reconnect_min = milliseconds(10);
    o.reconnect_max = milliseconds(20);
    o.connect_timeout = milliseconds(2'000);
    o.log_failures = false;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(session_reports_each_failed_attempt_and_retries_until_the_user_stops) {
    refused_user user;
    queue::wakeup wake;
    queue::amqp_session(refused_options(), user, wake).run();
    BOOST_TEST(!user.connected);
    BOOST_REQUIRE(user.failures.size() == 3u);
    for (const auto& f : user.failures) BOOST_TEST(f.find("cannot connect") != std::string::npos, f);
}

BOOST_AUTO_TEST_CASE(session_backoff_ends_as_soon_as_the_wakeup_is_raised) {
    refused_user user;
    user.give_up = 100;
    auto o = refused_options();
    o.reconnect_min = o.reconnect_max = milliseconds(60'000);
    o.poll_interval = milliseconds(60'000);  // only the wake-up can end the wait early
    queue::wakeup wake;
    const auto started = std::chrono::steady_clock::now();
    std::thread stopper([&] {
        std::this_thread::sleep_for(milliseconds(200));
        user.stop = true;
        wake.notify();
    });
    queue::amqp_session(o, user, wake).run();
    stopper.join();
    const auto took = std::chrono::steady_clock::now() - started;
    BOOST_TEST(user.failures.size() == 1u);
    BOOST_TEST(took < std::chrono::seconds(30),
               "run() took " << std::chrono::duration<double>(took).count() << " s");
}

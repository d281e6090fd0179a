// The webhook store's contract, the same cases against both adapters (SQLite on a temp file,
// PostgreSQL on a fresh schema of the test cluster): deliveries recorded with the status change,
// claims, attempts, 410, secrets and rotation, redelivery, statistics; plus, on PostgreSQL, two
// instances sharing the deliveries; and on SQLite, that the writer journals them in memory.
#define BOOST_TEST_MODULE webhook_store
#include <boost/test/unit_test.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/mpl/list.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_signature.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"
#include "store/webhook_store.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"

namespace asio = boost::asio;
using namespace jobsd::store;
using namespace std::chrono_literals;
using jobsd::model::job_event;
using jobsd::model::job_status;

namespace {

struct sqlite_backend {
    jobsd::test::temp_dir dir{"jobsd-webhook-store"};
    std::unique_ptr<store> open(std::string = {}) {
        sqlite_options o;
        o.path = dir.path() / "jobs.db";
        return std::make_unique<sqlite_store>(o);
    }
};

struct pg_backend {
    jobsd::test::pg_test_schema schema;
    std::unique_ptr<store> open(std::string instance = "instance-1") {
        pg_options o;
        o.url = schema.url();
        o.instance_id = std::move(instance);
        return std::make_unique<pg_store>(o);
    }
};

using backends = boost::mpl::list<sqlite_backend, pg_backend>;

unsigned bits(std::initializer_list<std::string_view> names) {
    unsigned b = 0;
    for (auto n : names) b |= jobsd::model::find_webhook_event(n)->bit;
    return b;
}

// Small synchronous front ends over the asynchronous interface.
template <class Value, class Member, class... Args>
Value call(webhook_store& ws, Member m, Args... args) {
    return async_webhook<Value>(ws, m, asio::use_future, std::move(args)...).get();
}

webhook_endpoint add_endpoint(webhook_store& ws, std::string account, std::string url, unsigned events,
                              std::string secret = "whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLXNlY3JldA==") {
    webhook_endpoint e;
    e.id = jobsd::model::new_webhook_endpoint_id();
    e.account_id = std::move(account);
    e.url = std::move(url);
    e.events = events;
    e.created_ms = jobsd::model::now_ms();
    BOOST_TEST_REQUIRE(call<bool>(ws, &webhook_store::create_endpoint, e, std::move(secret)));
    return e;
}

job_record make_job(std::string account, std::string webhook = {}, unsigned events = 0) {
    job_record j;
    j.uuid = jobsd::model::new_uuid();
    j.account_id = std::move(account);
    j.source_id = "project-1";
    j.session_id = "s";
    j.input = R"({"job_type":"video"})";
    j.created_ms = j.updated_ms = jobsd::model::now_ms();
    j.webhook_url = std::move(webhook);
    j.webhook_events = events;
    return j;
}

void create(store& s, const job_record& j) {
    async_create_job(s, j, asio::use_future).get();
}

void apply(store& s, const std::string& uuid, job_status st) {
    job_event e;
    e.uuid = uuid;
    e.status = st;
    e.at_ms = jobsd::model::now_ms();
    async_apply_events(s, {e}, asio::use_future).get();
}

claim_request request(std::size_t limit = 100, std::size_t per_dest = 100,
                      std::vector<std::string> skip = {}) {
    claim_request r;
    r.now_ms = jobsd::model::now_ms();
    r.limit = limit;
    r.per_dest = per_dest;
    r.skip = std::move(skip);
    r.lease_until_ms = r.now_ms + 60'000;
    return r;
}

std::vector<due_delivery> claim(webhook_store& ws, claim_request r = request()) {
    return call<std::vector<due_delivery>>(ws, &webhook_store::claim_deliveries, std::move(r));
}

attempt_record outcome(const due_delivery& d, delivery_outcome o, std::optional<int> code,
                       std::int64_t next_ms = 0) {
    attempt_record a;
    a.delivery_id = d.id;
    a.attempt = d.attempts + 1;
    a.at_ms = jobsd::model::now_ms();
    a.status_code = code;
    a.latency_ms = 7;
    if (!code) a.error = "connection refused";
    a.outcome = o;
    a.next_ms = next_ms;
    return a;
}

std::size_t finish(webhook_store& ws, std::vector<attempt_record> a) {
    return call<std::size_t>(ws, &webhook_store::finish_attempts, std::move(a));
}

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(endpoints_belong_to_their_account, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    auto e1 = add_endpoint(ws, "acc_a", "https://a.example/hook", bits({"job.succeeded"}));
    add_endpoint(ws, "acc_b", "https://b.example/hook", bits({"job.failed"}));
    auto mine = call<std::vector<webhook_endpoint>>(ws, &webhook_store::list_endpoints, std::string("acc_a"));
    BOOST_TEST_REQUIRE(mine.size() == 1u);
    BOOST_TEST(mine[0].id == e1.id);
    BOOST_TEST(mine[0].url == "https://a.example/hook");
    BOOST_TEST(mine[0].events == bits({"job.succeeded"}));
    BOOST_TEST(mine[0].enabled);
    BOOST_TEST(
        call<std::vector<webhook_endpoint>>(ws, &webhook_store::list_endpoints, std::string()).size() == 2u);
    BOOST_TEST(!call<bool>(ws, &webhook_store::delete_endpoint, std::string("acc_b"), e1.id));
    BOOST_TEST(call<bool>(ws, &webhook_store::delete_endpoint, std::string("acc_a"), e1.id));
    BOOST_TEST(!call<bool>(ws, &webhook_store::delete_endpoint, std::string("acc_a"), e1.id));
    BOOST_TEST(call<std::vector<webhook_endpoint>>(ws, &webhook_store::list_endpoints, std::string("acc_a"))
                   .empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(status_changes_record_the_deliveries_their_filters_want, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    auto all = add_endpoint(ws, "acc_a", "https://a.example/all", bits({"job.started", "job.succeeded"}));
    add_endpoint(ws, "acc_a", "https://a.example/failed-only", bits({"job.failed"}));
    add_endpoint(ws, "acc_b", "https://b.example/other-account", bits({"job.succeeded"}));
    auto j = make_job("acc_a", "http://own.example:8080/cb?x=1", bits({"job.succeeded"}));
    create(*s, j);
    apply(*s, j.uuid, job_status::started);
    apply(*s, j.uuid, job_status::in_progress);  // nobody asked for job.progress
    apply(*s, j.uuid, job_status::success);
    apply(*s, j.uuid, job_status::failed);  // not applied (terminal): records nothing

    auto due = claim(ws);
    std::multiset<std::string> got;
    for (const auto& d : due) {
        got.insert(d.event + " " + d.url);
        BOOST_TEST(d.id.starts_with("msg_"));
        BOOST_TEST(d.id.size() == 36u);  // msg_ and 32 lowercase hex digits
        BOOST_TEST(d.id.find_first_not_of("0123456789abcdef", 4) == std::string::npos, d.id);
        BOOST_TEST(d.account_id == "acc_a");
        BOOST_TEST_REQUIRE(d.job.has_value());
        BOOST_TEST(d.job->uuid == j.uuid);
        BOOST_TEST(d.attempts == 0);
        if (d.endpoint_id) {
            BOOST_TEST(*d.endpoint_id == all.id);
            BOOST_TEST(d.dest == all.id);
            BOOST_TEST(d.secret.has_value());
        } else {
            BOOST_TEST(d.dest == "http://own.example:8080");
            BOOST_TEST(d.secret_owner == "account:acc_a");
            BOOST_TEST(!d.secret.has_value());  // the account never read its default secret
        }
    }
    const std::multiset<std::string> want = {"job.started https://a.example/all",
                                             "job.succeeded https://a.example/all",
                                             "job.succeeded http://own.example:8080/cb?x=1"};
    BOOST_TEST(got == want, "got " << got.size() << " deliveries");
    std::set<std::string> ids;
    for (const auto& d : due) ids.insert(d.id);
    BOOST_TEST(ids.size() == due.size());  // one webhook-id per delivery
}

// An account's endpoints that cannot be read fail the event (it comes again from the broker),
// never apply it as if nobody wanted a delivery: once they can be read, the delivery is recorded.
BOOST_AUTO_TEST_CASE(an_unreadable_endpoint_list_fails_the_event_instead_of_skipping_its_delivery) {
    sqlite_backend b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    add_endpoint(ws, "acc_a", "https://a.example/all", bits({"job.started", "job.succeeded"}));
    auto j = make_job("acc_a");
    create(*s, j);
    apply(*s, j.uuid, job_status::started);  // the writer's statement for the endpoints is prepared
    {
        sqlite_db other(b.dir.path() / "jobs.db", sqlite_db::mode::read_write);
        other.exec("ALTER TABLE webhook_endpoints RENAME TO webhook_endpoints_away");
    }
    BOOST_CHECK_THROW(apply(*s, j.uuid, job_status::success), boost::system::system_error);
    auto still = async_find_job(*s, "acc_a", j.uuid, asio::use_future).get();
    BOOST_TEST_REQUIRE(still.has_value());
    BOOST_TEST(jobsd::model::to_string(still->status) == "STARTED");
    {
        sqlite_db other(b.dir.path() / "jobs.db", sqlite_db::mode::read_write);
        other.exec("ALTER TABLE webhook_endpoints_away RENAME TO webhook_endpoints");
    }
    apply(*s, j.uuid, job_status::success);  // the same event, again
    std::multiset<std::string> got;
    for (const auto& d : claim(ws)) got.insert(d.event);
    const std::multiset<std::string> want = {"job.started", "job.succeeded"};
    BOOST_TEST(got == want, "got " << got.size() << " deliveries");
}

// POST /jobs/v2/batch: each job of a batch keeps its own webhook (the first job and the rest go in
// through different statements on PostgreSQL), and a job without one gets no delivery.
BOOST_AUTO_TEST_CASE_TEMPLATE(batch_jobs_keep_their_own_webhooks, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    const std::string batch_id = "batch-1";
    std::vector<job_record> batch = {make_job("acc_a", "https://first.example/cb", bits({"job.succeeded"})),
                                     make_job("acc_a"),
                                     make_job("acc_a", "https://third.example/cb", bits({"job.succeeded"})),
                                     make_job("acc_a", "https://fourth.example/cb", bits({"job.failed"}))};
    for (auto& j : batch) j.batch_id = batch_id;
    async_create_jobs(*s, batch, asio::use_future).get();
    for (const auto& j : batch) apply(*s, j.uuid, job_status::success);

    std::multiset<std::string> got;
    for (const auto& d : claim(ws)) {
        BOOST_TEST_REQUIRE(d.job.has_value());
        got.insert(d.job->uuid + " " + d.event + " " + d.url);
    }
    const std::multiset<std::string> want = {batch[0].uuid + " job.succeeded https://first.example/cb",
                                             batch[2].uuid + " job.succeeded https://third.example/cb"};
    BOOST_TEST(got == want, "got " << got.size() << " deliveries");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(claims_bound_each_destination_and_hold_until_finished, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    auto busy = add_endpoint(ws, "acc_a", "https://busy.example/", bits({"job.succeeded"}));
    std::vector<job_record> jobs;
    for (int i = 0; i < 5; ++i) {
        jobs.push_back(make_job("acc_a"));
        create(*s, jobs.back());
        apply(*s, jobs.back().uuid, job_status::success);
    }
    auto first = claim(ws, request(10, 2));
    BOOST_TEST(first.size() == 2u);                            // at most two of one destination
    BOOST_TEST(claim(ws, request(10, 2, {busy.id})).empty());  // a skipped destination gets none
    auto second = claim(ws, request(10, 2));
    BOOST_TEST(second.size() == 2u);  // the claimed ones are held; the next two come
    for (const auto& d : second)
        for (const auto& f : first) BOOST_TEST(d.id != f.id);
    // Finished as retries due now: claimable again; the fifth is still there.
    std::vector<attempt_record> done;
    for (const auto& d : first)
        done.push_back(outcome(d, delivery_outcome::retry, 500, jobsd::model::now_ms()));
    BOOST_TEST(finish(ws, done) == 2u);
    auto third = claim(ws, request(10, 10));
    BOOST_TEST(third.size() == 3u);
    for (const auto& d : third)
        if (d.id == first[0].id) BOOST_TEST(d.attempts == 1);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(attempts_are_listed_and_end_the_delivery, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    auto e = add_endpoint(ws, "acc_a", "https://a.example/", bits({"job.succeeded", "job.failed"}));
    auto j = make_job("acc_a");
    create(*s, j);
    apply(*s, j.uuid, job_status::success);
    auto d = claim(ws);
    BOOST_TEST_REQUIRE(d.size() == 1u);
    BOOST_TEST(
        finish(ws, {outcome(d[0], delivery_outcome::retry, 500, jobsd::model::now_ms() + 3'600'000)}) == 1u);
    BOOST_TEST(claim(ws).empty());  // not due for an hour
    auto stats = call<webhook_stats>(ws, &webhook_store::read_webhook_stats, jobsd::model::now_ms());
    BOOST_TEST(stats.pending == 1u);
    BOOST_TEST(stats.due == 0u);
    // Redelivery makes it due now, with the same webhook-id.
    BOOST_TEST(
        !call<bool>(ws, &webhook_store::redeliver, std::string("acc_b"), d[0].id, jobsd::model::now_ms()));
    BOOST_TEST(
        call<bool>(ws, &webhook_store::redeliver, std::string("acc_a"), d[0].id, jobsd::model::now_ms()));
    stats = call<webhook_stats>(ws, &webhook_store::read_webhook_stats, jobsd::model::now_ms() + 1);
    BOOST_TEST(stats.due == 1u);
    BOOST_TEST(stats.oldest_due_ms.has_value());
    auto again = claim(ws);
    BOOST_TEST_REQUIRE(again.size() == 1u);
    BOOST_TEST(again[0].id == d[0].id);
    BOOST_TEST(finish(ws, {outcome(again[0], delivery_outcome::delivered, 204)}) == 1u);
    BOOST_TEST(finish(ws, {outcome(again[0], delivery_outcome::delivered, 204)}) == 0u);  // no longer pending

    auto listed = call<std::optional<std::vector<delivery_info>>>(
        ws, &webhook_store::list_deliveries, std::string("acc_a"), e.id, std::size_t{10});
    BOOST_TEST_REQUIRE(listed.has_value());
    BOOST_TEST_REQUIRE(listed->size() == 1u);
    const auto& info = listed->front();
    BOOST_TEST(info.status == "delivered");
    BOOST_TEST(info.attempts == 2);
    BOOST_TEST(info.job_uuid == j.uuid);
    BOOST_TEST(info.event == "job.succeeded");
    BOOST_TEST(info.done_ms.has_value());
    BOOST_TEST_REQUIRE(info.history.size() == 2u);
    BOOST_TEST(info.history[0].status_code.value_or(0) == 500);
    BOOST_TEST(info.history[1].status_code.value_or(0) == 204);
    BOOST_TEST(info.history[1].latency_ms == 7);
    BOOST_TEST(!call<std::optional<std::vector<delivery_info>>>(ws, &webhook_store::list_deliveries,
                                                                std::string("acc_b"), e.id, std::size_t{10})
                    .has_value());
    auto recent = call<std::vector<recent_attempt>>(ws, &webhook_store::recent_attempts, std::size_t{5});
    BOOST_TEST_REQUIRE(recent.size() == 2u);
    BOOST_TEST(recent[0].attempt.status_code.value_or(0) == 204);
    BOOST_TEST(recent[1].attempt.status_code.value_or(0) == 500);

    // Sent again after it was delivered: the delivered attempt stays in the history (SQLite keeps
    // a delivered attempt in its delivery's row until then).
    BOOST_TEST(
        call<bool>(ws, &webhook_store::redeliver, std::string("acc_a"), d[0].id, jobsd::model::now_ms()));
    auto third = claim(ws);
    BOOST_TEST_REQUIRE(third.size() == 1u);
    BOOST_TEST(third[0].attempts == 2);
    auto last = outcome(third[0], delivery_outcome::delivered, 200);
    last.latency_ms = 9;
    BOOST_TEST(finish(ws, {last}) == 1u);
    listed = call<std::optional<std::vector<delivery_info>>>(ws, &webhook_store::list_deliveries,
                                                             std::string("acc_a"), e.id, std::size_t{10});
    BOOST_TEST_REQUIRE(listed.has_value());
    BOOST_TEST_REQUIRE(listed->size() == 1u);
    BOOST_TEST(listed->front().attempts == 3);
    BOOST_TEST_REQUIRE(listed->front().history.size() == 3u);
    BOOST_TEST(listed->front().history[1].status_code.value_or(0) == 204);
    BOOST_TEST(listed->front().history[1].latency_ms == 7);
    BOOST_TEST(listed->front().history[2].status_code.value_or(0) == 200);
    BOOST_TEST(listed->front().history[2].latency_ms == 9);
}

// A redelivery asked for while an attempt is under way sends nothing more at once: the claim is
// kept and the attempt's outcome decides.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_redelivery_during_an_attempt_is_not_sent_beside_it, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    add_endpoint(ws, "acc_a", "https://a.example/", bits({"job.succeeded"}));
    auto j = make_job("acc_a");
    create(*s, j);
    apply(*s, j.uuid, job_status::success);
    auto d = claim(ws);
    BOOST_TEST_REQUIRE(d.size() == 1u);
    BOOST_TEST(
        call<bool>(ws, &webhook_store::redeliver, std::string("acc_a"), d[0].id, jobsd::model::now_ms()));
    BOOST_TEST(claim(ws).empty());
    BOOST_TEST(finish(ws, {outcome(d[0], delivery_outcome::delivered, 204)}) == 1u);
    BOOST_TEST(claim(ws).empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(gone_disables_the_endpoint_and_cancels_the_rest, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    auto e = add_endpoint(ws, "acc_a", "https://gone.example/", bits({"job.started", "job.succeeded"}));
    auto j = make_job("acc_a");
    create(*s, j);
    apply(*s, j.uuid, job_status::started);
    apply(*s, j.uuid, job_status::success);
    auto d = claim(ws, request(1));
    BOOST_TEST_REQUIRE(d.size() == 1u);
    finish(ws, {outcome(d[0], delivery_outcome::gone, 410)});
    BOOST_TEST(claim(ws).empty());  // the other one is cancelled
    auto eps = call<std::vector<webhook_endpoint>>(ws, &webhook_store::list_endpoints, std::string("acc_a"));
    BOOST_TEST_REQUIRE(eps.size() == 1u);
    BOOST_TEST(!eps[0].enabled);
    BOOST_TEST(eps[0].disabled_reason.has_value());
    // A disabled endpoint records nothing more, and its deliveries cannot be redelivered.
    auto k = make_job("acc_a");
    create(*s, k);
    apply(*s, k.uuid, job_status::success);
    BOOST_TEST(claim(ws).empty());
    BOOST_TEST(
        !call<bool>(ws, &webhook_store::redeliver, std::string("acc_a"), d[0].id, jobsd::model::now_ms()));
    auto listed = call<std::optional<std::vector<delivery_info>>>(
        ws, &webhook_store::list_deliveries, std::string("acc_a"), e.id, std::size_t{10});
    BOOST_TEST_REQUIRE(listed.has_value());
    std::multiset<std::string> statuses;
    for (const auto& i : *listed) statuses.insert(i.status);
    BOOST_TEST((statuses == std::multiset<std::string>{"cancelled", "failed"}));
}

// 410 Gone from a job's own URL: its other pending delivery is cancelled, and the job's later
// status changes record nothing more for it (the URL is dropped from the job's row).
BOOST_AUTO_TEST_CASE_TEMPLATE(gone_from_a_jobs_own_url_stops_that_job_only, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    const auto wanted = bits({"job.started", "job.progress", "job.succeeded"});
    auto j = make_job("acc_a", "https://own.example/gone", wanted);
    auto other = make_job("acc_a", "https://own.example/other", wanted);
    create(*s, j);
    create(*s, other);
    apply(*s, j.uuid, job_status::started);
    apply(*s, j.uuid, job_status::in_progress);
    auto d = claim(ws, request(1));
    BOOST_TEST_REQUIRE(d.size() == 1u);
    BOOST_TEST(d[0].url == "https://own.example/gone");
    finish(ws, {outcome(d[0], delivery_outcome::gone, 410)});
    BOOST_TEST(claim(ws).empty());  // the job's job.progress is cancelled
    apply(*s, j.uuid, job_status::success);
    apply(*s, other.uuid, job_status::success);
    auto rest = claim(ws);
    BOOST_TEST_REQUIRE(rest.size() == 1u);  // the other job's only
    BOOST_TEST_REQUIRE(rest[0].job.has_value());
    BOOST_TEST(rest[0].job->uuid == other.uuid);
    BOOST_TEST(rest[0].url == "https://own.example/other");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(secrets_are_kept_and_rotate_with_an_overlap, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    const std::string first = "whsec_Zmlyc3QtZmlyc3QtZmlyc3QtZmlyc3QtZmly";
    BOOST_TEST(call<std::string>(ws, &webhook_store::account_secret, std::string("acc_a"), first) == first);
    BOOST_TEST(call<std::string>(ws, &webhook_store::account_secret, std::string("acc_a"),
                                 std::string("whsec_b3RoZXI=")) == first);  // created once, then read
    const auto now = jobsd::model::now_ms();
    const std::string second = "whsec_c2Vjb25kLXNlY29uZC1zZWNvbmQtc2Vjb25k";
    BOOST_TEST(call<bool>(ws, &webhook_store::rotate_secret, std::string("acc_a"),
                          std::string(default_secret_name), second, now, now + 3'600'000));
    auto j = make_job("acc_a", "https://own.example/cb", bits({"job.succeeded"}));
    create(*s, j);
    apply(*s, j.uuid, job_status::success);
    auto d = claim(ws);
    BOOST_TEST_REQUIRE(d.size() == 1u);
    BOOST_TEST(d[0].secret.value_or("") == second);
    BOOST_TEST(d[0].previous_secret.value_or("") == first);  // both sign during the overlap

    auto e = add_endpoint(ws, "acc_a", "https://a.example/", bits({"job.failed"}));
    BOOST_TEST(!call<bool>(ws, &webhook_store::rotate_secret, std::string("acc_b"), e.id, second, now, now));
    BOOST_TEST(!call<bool>(ws, &webhook_store::rotate_secret, std::string("acc_a"), std::string("ep_nope"),
                           second, now, now));
    // An overlap that has ended: the previous secret signs no more.
    BOOST_TEST(
        call<bool>(ws, &webhook_store::rotate_secret, std::string("acc_a"), e.id, second, now, now - 1));
    auto k = make_job("acc_a");
    create(*s, k);
    apply(*s, k.uuid, job_status::failed);
    auto f = claim(ws);
    BOOST_TEST_REQUIRE(f.size() == 1u);
    BOOST_TEST(f[0].secret.value_or("") == second);
    BOOST_TEST(!f[0].previous_secret.has_value());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(released_claims_are_claimable_at_once, B, backends) {
    B b;
    auto s = b.open();
    auto& ws = *s->webhooks();
    add_endpoint(ws, "acc_a", "https://a.example/", bits({"job.succeeded"}));
    auto j = make_job("acc_a");
    create(*s, j);
    apply(*s, j.uuid, job_status::success);
    BOOST_TEST(claim(ws).size() == 1u);
    BOOST_TEST(claim(ws).empty());
    BOOST_TEST(call<std::size_t>(ws, &webhook_store::release_claims) == 1u);
    BOOST_TEST(claim(ws).size() == 1u);
}

BOOST_AUTO_TEST_CASE(two_postgres_instances_never_claim_the_same_delivery) {
    pg_backend b;
    auto one = b.open("instance-1");
    auto two = b.open("instance-2");
    add_endpoint(*one->webhooks(), "acc_a", "https://a.example/", bits({"job.succeeded"}));
    std::vector<job_record> jobs;
    for (int i = 0; i < 40; ++i) {
        jobs.push_back(make_job("acc_a"));
        create(*one, jobs.back());
        apply(*one, jobs.back().uuid, job_status::success);
    }
    std::set<std::string> seen;
    std::size_t total = 0;
    for (int round = 0; round < 10; ++round)
        for (auto* s : {one.get(), two.get()})
            for (const auto& d : claim(*s->webhooks(), request(3, 100))) {
                seen.insert(d.id);
                ++total;
            }
    BOOST_TEST(total == 40u);
    BOOST_TEST(seen.size() == 40u);
    // A restarted instance-2 releases only its own claims.
    auto released = call<std::size_t>(*two->webhooks(), &webhook_store::release_claims);
    BOOST_TEST(released > 0u);
    BOOST_TEST(released < 40u);
    BOOST_TEST(claim(*one->webhooks()).size() == released);
}

namespace {

// The process's default VFS, wrapped: every file SQLite opens through it is counted by kind.
// Registered as the default for one test's lifetime, so the store it opens goes through it.
struct counting_vfs {
    static inline sqlite3_vfs* real = nullptr;
    static inline std::atomic<int> journals{0};  // statement journals and sub-journals opened
    static inline std::atomic<int> others{0};    // every other file: the database, its WAL

    sqlite3_vfs vfs{};

    counting_vfs() {
        real = sqlite3_vfs_find(nullptr);
        BOOST_TEST_REQUIRE(real != nullptr);
        vfs = *real;
        vfs.zName = "jobsd-counting";
        vfs.pAppData = nullptr;
        vfs.xOpen = [](sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out) {
            if (flags & (SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_TEMP_JOURNAL))
                ++journals;
            else
                ++others;
            return real->xOpen(real, name, file, flags, out);
        };
        journals = 0;
        others = 0;
        BOOST_TEST_REQUIRE(sqlite3_vfs_register(&vfs, 1) == SQLITE_OK);
    }
    ~counting_vfs() {
        sqlite3_vfs_unregister(&vfs);
        sqlite3_vfs_register(real, 1);
    }
};

}  // namespace

// The SQLite writer keeps its statement and savepoint journals in memory: it opens no temporary
// file for them, where each journalled page would cost a write (bench/RESULTS.md, issue 15).
// Creates in a batch and status changes that record deliveries (an INSERT … SELECT inside the
// op's savepoint) both journal the pages they change. SQLite keeps such a journal in memory up to
// 64 KiB by itself: these ops change hundreds of pages (500 jobs of about 700 bytes, two events
// each, a delivery per event), as a busy writer's do.
BOOST_AUTO_TEST_CASE(sqlite_writer_opens_no_journal_file_for_its_savepoints_and_statements) {
    counting_vfs counting;
    sqlite_backend b;
    {
        auto s = b.open();
        std::vector<job_record> jobs;
        for (int i = 0; i < 500; ++i) {
            jobs.push_back(
                make_job("acc_a", "https://receiver.example/hooks", bits({"job.started", "job.succeeded"})));
            jobs.back().input =
                R"({"job_type":"video","values":{"script":")" + std::string(600, 'x') + R"("}})";
        }
        async_create_jobs(*s, jobs, asio::use_future).get();
        std::vector<job_event> events;
        for (const auto& j : jobs)
            for (auto st : {job_status::started, job_status::success}) {
                job_event e;
                e.uuid = j.uuid;
                e.status = st;
                e.at_ms = jobsd::model::now_ms();
                events.push_back(e);
            }
        const auto applied = async_apply_events(*s, events, asio::use_future).get();
        BOOST_TEST(applied.size() == events.size());
        const auto stats = call<webhook_stats>(*s->webhooks(), &webhook_store::read_webhook_stats,
                                               jobsd::model::now_ms() + 1000);
        BOOST_TEST(stats.pending == 2 * jobs.size());  // the deliveries were recorded, so journalled
    }
    BOOST_TEST(counting_vfs::others.load() > 0);  // the store did open its files through it
    BOOST_TEST(counting_vfs::journals.load() == 0);
}

// The store contract: the same cases against every adapter (SQLite on a temp file, PostgreSQL
// on the test cluster, each case on a fresh schema), plus what only a shared database has to
// keep (outbox claims between instances, leases) and the PostgreSQL adapter's startup errors.
#define BOOST_TEST_MODULE store_contract
#include <boost/test/unit_test.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/mpl/list.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_schema.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"
#include "store/store_error.hpp"
#include "store/store_factory.hpp"
#include "store/webhook_store.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"
#include "tests/support/sqlite_file.hpp"
#include "tests/support/wait.hpp"

namespace asio = boost::asio;
using namespace jobsd::store;
using namespace std::chrono_literals;
using jobsd::model::job_event;
using jobsd::model::job_status;
using jobsd::model::job_type;

namespace {

// Each backend can also hold its writers, so a case can decide what shares a batch: the store's
// writers wait with the jobs they took until the returned handle goes (SQLite: the test holds the
// database's write lock; PostgreSQL: the test's open transaction has inserted those jobs' uuids).
struct sqlite_backend {
    static constexpr const char* name = "sqlite";
    jobsd::test::temp_dir dir{"jobsd-contract"};
    std::unique_ptr<store> open(std::chrono::milliseconds = 30s) {
        sqlite_options o;
        o.path = dir.path() / "jobs.db";
        return std::make_unique<sqlite_store>(o);
    }
    static constexpr bool shared = false;
    static constexpr std::size_t writers = 1;  // one writer thread
    std::shared_ptr<void> hold_writes(const std::vector<job_record>&) {
        return std::make_shared<jobsd::test::sqlite_write_lock>(dir.path() / "jobs.db");
    }
};

struct pg_backend {
    static constexpr const char* name = "postgres";
    jobsd::test::pg_test_schema schema;
    std::unique_ptr<store> open(std::chrono::milliseconds lease = 30s) {
        pg_options o;
        o.url = schema.url();
        o.claim_lease = lease;
        return std::make_unique<pg_store>(o);
    }
    static constexpr bool shared = true;
    static inline const std::size_t writers = pg_options{}.writers;  // connections committing at once
    // An uncommitted insert of each job's uuid: the store's insert of that job waits for this
    // transaction (a unique key being written), while the rest of the database stays open.
    std::shared_ptr<void> hold_writes(const std::vector<job_record>& jobs) {
        std::string rows;
        for (const auto& j : jobs)
            rows += (rows.empty() ? "" : ",") +
                    ("('" + j.uuid + "', 'held', 'p', 'video', 'QUEUED', '{}', 1, 1)");
        schema.exec(
            "BEGIN; INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, input, created_ms,"
            " updated_ms) VALUES " +
            rows);
        return std::shared_ptr<void>(nullptr, [this](void*) {
            try {
                schema.exec("ROLLBACK");
            } catch (...) {  // the admin connection is gone: so is its transaction
            }
        });
    }
};

using backends = boost::mpl::list<sqlite_backend, pg_backend>;

job_record make_job(std::string account, std::string key = "") {
    job_record j;
    j.uuid = jobsd::model::new_uuid();
    j.account_id = std::move(account);
    j.source_id = "project-1";
    j.type = job_type::video;
    j.session_id = "session-1";
    j.input = R"({"type":"video"})";
    j.created_ms = 1'700'000'000'000;
    j.updated_ms = j.created_ms;
    if (!key.empty()) {
        j.idempotency_key = std::move(key);
        j.request_hash = "hash-" + j.idempotency_key;
    }
    return j;
}

void create(store& s, job_record j) {
    async_create_job(s, std::move(j), asio::use_future).get();
}

error_code create_outcome(store& s, job_record j) {
    try {
        create(s, std::move(j));
        return {};
    } catch (const boost::system::system_error& e) {
        return e.code();
    }
}

std::optional<job_record> find(store& s, std::string account, std::string uuid) {
    return async_find_job(s, std::move(account), std::move(uuid), asio::use_future).get();
}

std::vector<outbox_entry> claim(store& s, std::int64_t after = 0, std::size_t limit = 100) {
    return async_claim_unpublished(s, after, limit, asio::use_future).get();
}

std::vector<applied_event> apply(store& s, std::vector<job_event> events) {
    return async_apply_events(s, std::move(events), asio::use_future).get();
}

// Writers kept busy: each of the store's writers has one job of its own in hand and waits until
// release(). Meanwhile every other write queues, and all that is queued when they are released is
// taken by the first writer free, as one batch.
struct held_writers {
    std::shared_ptr<void> hold;
    std::vector<std::future<void>> taken;
    void release() {
        hold.reset();
        for (auto& f : taken) f.get();
    }
};

template <class B>
held_writers occupy_writers(B& b, store& s) {
    std::vector<job_record> jobs;
    for (std::size_t i = 0; i < B::writers; ++i) jobs.push_back(make_job("acc_occupier"));
    held_writers held{b.hold_writes(jobs), {}};
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        held.taken.push_back(async_create_job(s, jobs[i], asio::use_future));
        BOOST_TEST_REQUIRE(jobsd::test::wait_until([&] { return s.stats().write_queue == 0; }, 30s),
                           "writer " << i << " did not take its job");
    }
    return held;
}

// Waits until the store's counters satisfy `counted`: a store may count a transaction just
// after completing its writes.
template <class F>
void wait_counted(store& s, F&& counted) {
    jobsd::test::wait_until([&] { return counted(s.stats()); }, 30s);
}

// Waits until `n` writes are queued behind the occupied writers.
void wait_queued(store& s, std::size_t n) {
    BOOST_TEST_REQUIRE(jobsd::test::wait_until([&] { return s.stats().write_queue == n; }, 30s),
                       s.stats().write_queue << " writes queued, " << n << " expected");
}

job_event event(const std::string& uuid, job_status st, std::int64_t at, std::optional<int> progress = {}) {
    job_event e;
    e.uuid = uuid;
    e.status = st;
    e.at_ms = at;
    e.progress = progress;
    return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(contract)

BOOST_AUTO_TEST_CASE_TEMPLATE(create_then_find_returns_every_field, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a", "key-1");
    j.version = 2.5;
    j.type = job_type::tts;
    j.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    create(*s, j);
    auto got = find(*s, "acc_a", j.uuid);
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST(got->uuid == j.uuid);
    BOOST_TEST(got->account_id == "acc_a");
    BOOST_TEST(got->source_id == j.source_id);
    BOOST_TEST((got->type == job_type::tts));
    BOOST_TEST((got->status == job_status::queued));
    BOOST_TEST(got->session_id == j.session_id);
    BOOST_TEST(got->input == j.input);
    BOOST_TEST(got->created_ms == j.created_ms);
    BOOST_TEST(got->updated_ms == j.created_ms);
    BOOST_TEST_REQUIRE(got->version.has_value());
    BOOST_TEST(*got->version == 2.5);
    BOOST_TEST(got->idempotency_key == "key-1");
    BOOST_TEST(got->request_hash == "hash-key-1");
    BOOST_TEST(!got->output.has_value());
    BOOST_TEST(!got->progress.has_value());
    BOOST_TEST(got->traceparent == j.traceparent);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(find_is_isolated_by_account, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a");
    create(*s, j);
    BOOST_TEST(!find(*s, "acc_b", j.uuid).has_value());
    BOOST_TEST(!find(*s, "acc_a", jobsd::model::new_uuid()).has_value());
    BOOST_TEST(find(*s, "acc_a", j.uuid).has_value());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(idempotency_key_is_unique_per_account_while_live, B, backends) {
    B b;
    auto s = b.open();
    auto first = make_job("acc_a", "k");
    // The store looks a key up within its window before now, so the first job is a recent one.
    first.created_ms = first.updated_ms = jobsd::model::now_ms();
    create(*s, first);
    BOOST_TEST(create_outcome(*s, make_job("acc_a", "k")) == error_code(store_errc::duplicate));
    BOOST_TEST(!create_outcome(*s, make_job("acc_b", "k")));  // another account's key space
    auto held = async_find_by_idempotency_key(*s, "acc_a", "k", asio::use_future).get();
    BOOST_TEST_REQUIRE(held.has_value());
    BOOST_TEST(held->uuid == first.uuid);
    // Past the window the old job gives the key up.
    auto later = make_job("acc_a", "k");
    later.created_ms = first.created_ms + 25LL * 3600 * 1000;
    BOOST_TEST(!create_outcome(*s, later));
    held = async_find_by_idempotency_key(*s, "acc_a", "k", asio::use_future).get();
    BOOST_TEST_REQUIRE(held.has_value());
    BOOST_TEST(held->uuid == later.uuid);
}

// The batch is made, not hoped for: with the writers held, the 20 jobs and the two creates of one
// uuid are queued together, then committed in one transaction, where only the second create of
// the uuid fails.
BOOST_AUTO_TEST_CASE_TEMPLATE(duplicate_uuid_fails_alone_in_its_batch, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a");
    std::vector<std::future<void>> futures;
    std::vector<job_record> others;
    std::uint64_t before = 0;
    {
        auto held = occupy_writers(b, *s);
        before = s->stats().transactions;
        for (int i = 0; i < 20; ++i) {
            others.push_back(make_job("acc_a"));
            futures.push_back(async_create_job(*s, others.back(), asio::use_future));
            if (i == 10) {
                futures.push_back(async_create_job(*s, j, asio::use_future));
                futures.push_back(async_create_job(*s, j, asio::use_future));
            }
        }
        wait_queued(*s, futures.size());
        held.release();
    }
    int duplicates = 0;
    for (auto& f : futures) {
        try {
            f.get();
        } catch (const boost::system::system_error& e) {
            BOOST_TEST(e.code() == error_code(store_errc::duplicate));
            ++duplicates;
        }
    }
    BOOST_TEST(duplicates == 1);
    // The writers' own jobs, then the 22 writes together (PostgreSQL counts a transaction just
    // after answering its writes: wait for the count, then check it exactly).
    wait_counted(*s, [&](const store_stats& st) { return st.transactions - before >= B::writers + 1; });
    BOOST_TEST(s->stats().transactions - before == B::writers + 1);
    for (const auto& o : others) BOOST_TEST(find(*s, "acc_a", o.uuid).has_value());
    BOOST_TEST(find(*s, "acc_a", j.uuid).has_value());
}

// Creates queued together are written by one statement (PostgreSQL: one INSERT from arrays sent
// in binary form): every field comes back as it went in, whatever characters the text holds and
// whichever optional values are absent.
BOOST_AUTO_TEST_CASE_TEMPLATE(creates_written_together_keep_every_field, B, backends) {
    B b;
    auto s = b.open();
    std::vector<job_record> jobs(4, make_job("acc_a"));
    for (auto& j : jobs) j.uuid = jobsd::model::new_uuid();
    jobs[0].input = R"({"q":"\"quoted\" \\ {a,b} NULL","u":"é 日本 😀","n":"line\nnext"})";
    jobs[0].session_id = "";
    jobs[0].priority = 1;
    jobs[1].version = -0.125;
    jobs[1].session_id = "s,{2}\"";
    jobs[1].expires_in_ms = 60'000;
    jobs[1].expires_at_ms = jobs[1].created_ms + 60'000;
    jobs[1].priority = 5;
    jobs[1].traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    jobs[1].webhook_url = "https://Hooks.Example/x?a=1&b=%22two%22";
    jobs[1].webhook_events = 3;
    jobs[2].version = 1e300;
    jobs[2].fair_key = 12.5;
    jobs[3].input = "{\"big\":\"" + std::string(20'000, 'x') + "\"}";
    jobs[3].version = 2;
    std::uint64_t before = 0;
    std::vector<std::future<void>> futures;
    {
        auto held = occupy_writers(b, *s);
        before = s->stats().transactions;
        for (const auto& j : jobs) futures.push_back(async_create_job(*s, j, asio::use_future));
        wait_queued(*s, futures.size());
        held.release();
    }
    for (auto& f : futures) f.get();
    wait_counted(*s, [&](const store_stats& st) { return st.transactions - before >= B::writers + 1; });
    BOOST_TEST(s->stats().transactions - before == B::writers + 1, "the four creates shared a transaction");
    for (const auto& j : jobs) {
        auto got = find(*s, "acc_a", j.uuid);
        BOOST_TEST_REQUIRE(got.has_value());
        BOOST_TEST(got->input == j.input);
        BOOST_TEST(got->session_id == j.session_id);
        BOOST_TEST(got->source_id == j.source_id);
        BOOST_TEST((got->type == j.type));
        BOOST_TEST(got->created_ms == j.created_ms);
        BOOST_TEST((got->version == j.version));
        BOOST_TEST((got->expires_in_ms == j.expires_in_ms));
        BOOST_TEST((got->expires_at_ms == j.expires_at_ms));
        BOOST_TEST(got->priority == j.priority);
        BOOST_TEST((got->fair_key == j.fair_key));
        BOOST_TEST(got->traceparent == j.traceparent);
        BOOST_TEST(got->attempt == j.attempt);
    }
    // A job's own webhook is kept in its row for the deliveries, not read back by find.
    if constexpr (std::is_same_v<B, pg_backend>) {
        const auto hook = [&](const job_record& j) {
            return b.schema.exec(
                "SELECT coalesce(webhook_url, '<null>') || ' ' || coalesce(webhook_dest, '<null>')"
                " || ' ' || coalesce(webhook_events::text, '<null>') FROM jobs WHERE uuid = '" +
                j.uuid + "'");
        };
        BOOST_TEST(hook(jobs[1]) == jobs[1].webhook_url + " https://hooks.example:443 3");
        BOOST_TEST(hook(jobs[0]) == "<null> <null> <null>");
    }
}

// The lifecycle sweep runs every second: one that finds nothing due writes nothing and is no
// write transaction (the group-commit counts stay exact); one that expires a job is one.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_sweep_with_nothing_due_is_no_transaction, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a");
    j.expires_in_ms = 1'000;
    j.expires_at_ms = j.created_ms + 1'000;
    create(*s, j);
    wait_counted(*s, [](const store_stats& st) { return st.transactions >= 1; });
    const auto before = s->stats().transactions;
    auto idle = async_sweep_lifecycle(*s, j.created_ms, 100, asio::use_future).get();
    BOOST_TEST(idle.expired.empty());
    BOOST_TEST(idle.due.empty());
    BOOST_TEST(s->stats().transactions == before);
    auto busy = async_sweep_lifecycle(*s, *j.expires_at_ms, 100, asio::use_future).get();
    BOOST_TEST_REQUIRE(busy.expired.size() == 1u);
    BOOST_TEST(busy.expired.front().event.uuid == j.uuid);
    wait_counted(*s, [&](const store_stats& st) { return st.transactions > before; });
    BOOST_TEST(s->stats().transactions == before + 1);
}

// A published job waits in its type's broker queue, which expires a message only at its head.
// A sweep that names the types no worker consumes expires their published jobs whose deadline is
// at or before its cut-off; a consumed type's, a later deadline and no deadline stay QUEUED.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_sweep_expires_the_published_jobs_of_unconsumed_types, B, backends) {
    B b;
    auto s = b.open();
    const std::int64_t t0 = 1'700'000'001'000;
    const auto job = [&](job_type type, std::optional<std::int64_t> deadline) {
        auto j = make_job("acc_a");
        j.type = type;
        if (deadline) {
            j.expires_in_ms = *deadline - j.created_ms;
            j.expires_at_ms = deadline;
        }
        create(*s, j);
        return j;
    };
    const auto overdue = job(job_type::video, t0);
    const auto consumed = job(job_type::tts, t0);
    const auto later = job(job_type::video, t0 + 5'000);
    const auto forever = job(job_type::video, std::nullopt);
    const auto waiting = job(job_type::video, t0);  // not published: the outbox's part expires it
    async_mark_published(*s, {{overdue.uuid, 1}, {consumed.uuid, 1}, {later.uuid, 1}, {forever.uuid, 1}},
                         asio::use_future)
        .get();

    const auto plain = async_sweep_lifecycle(*s, t0 + 10'000, 100, asio::use_future).get();
    BOOST_TEST_REQUIRE(plain.expired.size() == 1u);
    BOOST_TEST(plain.expired.front().event.uuid == waiting.uuid);
    BOOST_TEST(plain.expired_unconsumed.empty());
    BOOST_TEST((find(*s, "acc_a", overdue.uuid)->status == job_status::queued));

    sweep_request r{t0 + 10'000, 100, {job_type::video, job_type::image}, t0 + 1'000, std::nullopt};
    const auto swept = async_sweep_lifecycle(*s, r, asio::use_future).get();
    BOOST_TEST(swept.expired.empty());
    BOOST_TEST_REQUIRE(swept.expired_unconsumed.size() == 1u);
    const auto& e = swept.expired_unconsumed.front();
    BOOST_TEST(e.event.uuid == overdue.uuid);
    BOOST_TEST((e.event.status == job_status::expired));
    BOOST_TEST(e.event.at_ms == t0 + 10'000);
    BOOST_TEST(e.account_id == "acc_a");
    BOOST_TEST((e.type == job_type::video));
    BOOST_TEST((find(*s, "acc_a", overdue.uuid)->status == job_status::expired));
    for (const auto* kept : {&consumed, &later, &forever})
        BOOST_TEST((find(*s, "acc_a", kept->uuid)->status == job_status::queued));
    BOOST_TEST(async_sweep_lifecycle(*s, r, asio::use_future).get().expired_unconsumed.empty());

    // The probe: is a QUEUED job left whose deadline is at or before the one asked about?
    const auto probe = [&](std::int64_t deadline) {
        return async_sweep_lifecycle(*s, sweep_request{t0 + 10'000, 100, {}, 0, deadline}, asio::use_future)
            .get()
            .overdue;
    };
    BOOST_TEST(probe(t0));  // `consumed`
    BOOST_TEST(!probe(t0 - 1));
    BOOST_TEST(probe(t0 + 5'000));
    BOOST_TEST(!async_sweep_lifecycle(*s, t0 + 10'000, 100, asio::use_future).get().overdue);  // not asked
}

BOOST_AUTO_TEST_CASE_TEMPLATE(status_moves_only_forward, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a");
    create(*s, j);
    auto applied =
        apply(*s, {event(j.uuid, job_status::started, 1), event(j.uuid, job_status::in_progress, 2, 40),
                   event(j.uuid, job_status::queued, 3),  // a step back
                   event(j.uuid, job_status::in_progress, 4, 60)});
    BOOST_TEST(applied.size() == 3u);
    auto got = find(*s, "acc_a", j.uuid);
    BOOST_TEST((got->status == job_status::in_progress));
    BOOST_TEST(got->progress.value_or(-1) == 60);
    applied = apply(*s, {event(j.uuid, job_status::success, 5), event(j.uuid, job_status::failed, 6),
                         event(j.uuid, job_status::started, 7)});
    BOOST_TEST_REQUIRE(applied.size() == 1u);
    BOOST_TEST(applied[0].account_id == "acc_a");
    BOOST_TEST(applied[0].session_id == "session-1");
    BOOST_TEST((applied[0].type == job_type::video));
    got = find(*s, "acc_a", j.uuid);
    BOOST_TEST((got->status == job_status::success));
    BOOST_TEST(got->updated_ms == j.created_ms);  // events older than the row do not move it back
}

// A worker's batch holds several events of one job (STARTED, progress, the outcome; a retryable
// failure and the next attempt's start), interleaved with other jobs': applied together they
// leave each job, and answer each event, as applied one at a time.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_batch_leaves_each_job_as_its_events_one_at_a_time_would, B, backends) {
    B b;
    auto s = b.open();
    const std::int64_t t = 1'700'000'000'000;
    // Two jobs' events, written for `a` (runs to SUCCESS) and `r` (fails, is retried, starts again).
    const auto events_of = [&](const std::string& a, const std::string& r) {
        auto done = event(a, job_status::success, t + 9);
        done.output = R"({"url":"https://cdn.example/a.mp4"})";
        auto progress = event(a, job_status::in_progress, t + 3, 40);
        progress.output = R"({"partial":true})";
        auto failed = event(r, job_status::failed, t + 4);
        failed.attempt = 1;
        failed.retryable = true;
        failed.error = "renderer busy";
        auto again = event(r, job_status::started, t + 6);
        again.attempt = 2;
        auto late = event(a, job_status::in_progress, t + 2, 20);  // older than the row: ignored
        return std::vector<job_event>{event(a, job_status::started, t + 1),
                                      event(r, job_status::started, t + 1),
                                      progress,
                                      failed,
                                      late,
                                      again,
                                      event(a, job_status::in_progress, t + 5, 70),
                                      done};
    };
    std::vector<job_record> jobs;
    for (int i = 0; i < 4; ++i) {
        jobs.push_back(make_job("acc_a"));
        create(*s, jobs.back());
    }
    const auto together = apply(*s, events_of(jobs[0].uuid, jobs[1].uuid));
    std::vector<applied_event> one_by_one;
    for (auto& e : events_of(jobs[2].uuid, jobs[3].uuid))
        for (auto& a : apply(*s, {e})) one_by_one.push_back(std::move(a));

    BOOST_TEST_REQUIRE(together.size() == one_by_one.size());
    for (std::size_t i = 0; i < together.size(); ++i) {
        BOOST_TEST_CONTEXT("applied event " << i) {
            BOOST_TEST((together[i].event.status == one_by_one[i].event.status));
            BOOST_TEST((together[i].event.attempt == one_by_one[i].event.attempt));
            BOOST_TEST((together[i].event.progress == one_by_one[i].event.progress));
            BOOST_TEST((together[i].event.uuid == jobs[0].uuid) ==
                       (one_by_one[i].event.uuid == jobs[2].uuid));
        }
    }
    for (int k = 0; k < 2; ++k) {
        const auto batch = find(*s, "acc_a", jobs[k].uuid);
        const auto single = find(*s, "acc_a", jobs[k + 2].uuid);
        BOOST_TEST_REQUIRE((batch && single));
        BOOST_TEST_CONTEXT("job " << k) {
            BOOST_TEST((batch->status == single->status));
            BOOST_TEST((batch->progress == single->progress));
            BOOST_TEST((batch->output == single->output));
            BOOST_TEST((batch->error == single->error));
            BOOST_TEST(batch->attempt == single->attempt);
            BOOST_TEST(batch->updated_ms == single->updated_ms);
            BOOST_TEST(batch->retry_at_ms.has_value() == single->retry_at_ms.has_value());
        }
    }
    // What one at a time leaves, spelled out: the last progress and output given, the latest time.
    const auto a = find(*s, "acc_a", jobs[0].uuid);
    BOOST_TEST((a->status == job_status::success));
    BOOST_TEST(a->progress.value_or(-1) == 70);
    BOOST_TEST(a->output.value_or("") == R"({"url":"https://cdn.example/a.mp4"})");
    BOOST_TEST(a->updated_ms == t + 9);
    const auto r = find(*s, "acc_a", jobs[1].uuid);
    BOOST_TEST(r->attempt == 2);
    BOOST_TEST(r->error.value_or("") == "renderer busy");
}

// A retried job keeps its last error while the next attempt runs; that attempt's SUCCESS ends it,
// whether the SUCCESS comes alone or in one batch with the attempt's STARTED.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_success_clears_the_error_a_retry_kept, B, backends) {
    B b;
    auto s = b.open();
    const std::int64_t t = 1'700'000'000'000;
    for (const bool batched : {false, true}) {
        BOOST_TEST_CONTEXT((batched ? "in one batch" : "one at a time")) {
            auto j = make_job("acc_a");
            create(*s, j);
            auto failed = event(j.uuid, job_status::failed, t + 2);
            failed.attempt = 1;
            failed.retryable = true;
            failed.error = "renderer busy";
            apply(*s, {event(j.uuid, job_status::started, t + 1), failed});
            auto started = event(j.uuid, job_status::started, t + 3);
            started.attempt = 2;
            auto done = event(j.uuid, job_status::success, t + 4);
            done.attempt = 2;
            done.output = R"({"ok":true})";
            if (batched) {
                apply(*s, {started, done});
            } else {
                apply(*s, {started});
                const auto running = find(*s, "acc_a", j.uuid);
                BOOST_TEST_REQUIRE(running.has_value());
                BOOST_TEST(running->error.value_or("") == "renderer busy");
                apply(*s, {done});
            }
            const auto after = find(*s, "acc_a", j.uuid);
            BOOST_TEST_REQUIRE(after.has_value());
            BOOST_TEST((after->status == job_status::success));
            BOOST_TEST(!after->error.has_value(), "error: " << after->error.value_or(""));
            BOOST_TEST(after->output.value_or("") == R"({"ok":true})");
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(event_application_is_idempotent, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a");
    create(*s, j);
    const std::vector<job_event> batch = {
        event(j.uuid, job_status::started, j.created_ms + 1),
        event(j.uuid, job_status::success, j.created_ms + 2),
        event(jobsd::model::new_uuid(), job_status::started, 1)};  // unknown job
    BOOST_TEST(apply(*s, batch).size() == 2u);
    BOOST_TEST(apply(*s, batch).empty());  // redelivered: nothing moves
    auto got = find(*s, "acc_a", j.uuid);
    BOOST_TEST((got->status == job_status::success));
    BOOST_TEST(got->updated_ms == j.created_ms + 2);
    BOOST_TEST(s->stats().events_applied == 2u);
}

// A worker's SUCCESS of `attempt` with an output, and the check that a job ended with it (the
// overrule cases below).
constexpr std::string_view overruling_output = R"({"url":"https://cdn.example/v.mp4"})";

job_event success_with_output(const std::string& uuid, std::int64_t at, int attempt = 1) {
    auto e = event(uuid, job_status::success, at);
    e.attempt = attempt;
    e.output = std::string(overruling_output);
    return e;
}

void check_succeeded_with_output(store& s, const job_record& j) {
    BOOST_TEST_CONTEXT("job " << j.uuid) {
        auto got = find(s, "acc_a", j.uuid);
        BOOST_TEST_REQUIRE(got.has_value());
        BOOST_TEST((got->status == job_status::success));
        BOOST_TEST(got->output.value_or("") == overruling_output);
        BOOST_TEST(!got->error.has_value());
    }
}

// A worker confirmed SUCCESS, then its ack was lost on the last delivery the queue allowed, and
// the broker dead-lettered the job: the two reach jobsd by different queues, in either order.
// Either way the job ends SUCCESS with its output and no error. A FAILED gives way only when a
// dead letter made it (an EXPIRED too: the case below), and only to a SUCCESS of the same attempt.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_success_overrules_a_dead_letters_failure, B, backends) {
    B b;
    auto s = b.open();
    auto dead_letter = [](const std::string& uuid, std::int64_t at) {
        auto e = event(uuid, job_status::failed, at);
        e.attempt = 1;
        e.error = std::string(jobsd::model::dead_letter_error_prefix) + "delivery limit reached";
        return e;
    };
    auto late = make_job("acc_a"), together = make_job("acc_a"), worker_failed = make_job("acc_a"),
         other_attempt = make_job("acc_a"), first = make_job("acc_a");
    for (const auto& j : {late, together, worker_failed, other_attempt, first}) create(*s, j);
    auto failed_by_worker = event(worker_failed.uuid, job_status::failed, 2);
    failed_by_worker.error = "the model server said no";
    BOOST_TEST(apply(*s, {dead_letter(late.uuid, 2), failed_by_worker, dead_letter(other_attempt.uuid, 2),
                          success_with_output(first.uuid, 2)})
                   .size() == 4u);
    // In another batch (each read from its row), and within one batch (folded in memory).
    const auto applied =
        apply(*s, {success_with_output(late.uuid, 3), dead_letter(together.uuid, 2),
                   success_with_output(together.uuid, 3), success_with_output(worker_failed.uuid, 3),
                   success_with_output(other_attempt.uuid, 3, 2), dead_letter(first.uuid, 3)});
    BOOST_TEST(applied.size() == 3u);
    for (const auto& j : {late, together, first}) check_succeeded_with_output(*s, j);
    auto got = find(*s, "acc_a", worker_failed.uuid);  // a worker's own FAILED stands
    BOOST_TEST((got->status == job_status::failed));
    BOOST_TEST(got->error.value_or("") == "the model server said no");
    got = find(*s, "acc_a", other_attempt.uuid);  // a SUCCESS of another attempt changes nothing
    BOOST_TEST((got->status == job_status::failed));
    BOOST_TEST(got->error.value_or("").starts_with(jobsd::model::dead_letter_error_prefix));
    BOOST_TEST(apply(*s, {success_with_output(late.uuid, 4)}).empty());  // and a repeat nothing either
}

// An EXPIRED attempt that a worker did finish (its ack lost, the job's time ran out while its
// message waited in the queue again, and the broker's dead letter came before the SUCCESS):
// the SUCCESS stands, in another batch or the same one. A SUCCESS of another attempt, a cancel,
// and an EXPIRED after the SUCCESS change nothing.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_success_overrules_an_expired, B, backends) {
    B b;
    auto s = b.open();
    auto expired = [](const std::string& uuid, std::int64_t at) {
        auto e = event(uuid, job_status::expired, at);
        e.attempt = 1;
        return e;
    };
    auto late = make_job("acc_a"), together = make_job("acc_a"), other_attempt = make_job("acc_a"),
         cancelled = make_job("acc_a"), first = make_job("acc_a");
    for (const auto& j : {late, together, other_attempt, cancelled, first}) create(*s, j);
    BOOST_TEST(
        apply(*s, {expired(late.uuid, 2), expired(other_attempt.uuid, 2),
                   event(cancelled.uuid, job_status::cancelled, 2), success_with_output(first.uuid, 2)})
            .size() == 4u);
    const auto applied =
        apply(*s, {success_with_output(late.uuid, 3), expired(together.uuid, 2),
                   success_with_output(together.uuid, 3), success_with_output(other_attempt.uuid, 3, 2),
                   success_with_output(cancelled.uuid, 3), expired(first.uuid, 3)});
    BOOST_TEST(applied.size() == 3u);
    for (const auto& j : {late, together, first}) check_succeeded_with_output(*s, j);
    BOOST_TEST((find(*s, "acc_a", other_attempt.uuid)->status == job_status::expired));
    BOOST_TEST((find(*s, "acc_a", cancelled.uuid)->status == job_status::cancelled));
    BOOST_TEST(apply(*s, {success_with_output(late.uuid, 4)}).empty());  // a repeat changes nothing
}

BOOST_AUTO_TEST_CASE_TEMPLATE(outbox_claim_and_mark, B, backends) {
    B b;
    auto s = b.open();
    std::vector<job_record> jobs;
    for (int i = 0; i < 5; ++i) {
        jobs.push_back(make_job("acc_a"));
        jobs.back().created_ms += i;  // the oldest unpublished is told apart from the others
        jobs.back().updated_ms = jobs.back().created_ms;
        if (i == 2) jobs.back().type = job_type::tts;
        // The relay publishes the stored traceparent (none for a job from before traces).
        if (i != 3)
            jobs.back().traceparent =
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333" + std::to_string(i) + "-01";
        create(*s, jobs.back());
    }
    auto all = claim(*s);
    BOOST_TEST_REQUIRE(all.size() == 5u);
    for (std::size_t i = 0; i < all.size(); ++i) {
        BOOST_TEST(all[i].job.uuid == jobs[i].uuid);  // commit order
        BOOST_TEST(all[i].job.traceparent == jobs[i].traceparent);
    }
    for (std::size_t i = 1; i < all.size(); ++i) BOOST_TEST(all[i].seq > all[i - 1].seq);
    auto page = claim(*s, all[1].seq, 2);  // paging by seq
    BOOST_TEST_REQUIRE(page.size() == 2u);
    BOOST_TEST(page[0].job.uuid == jobs[2].uuid);
    async_mark_published(*s, {{jobs[0].uuid, 1}, {jobs[3].uuid, 1}}, asio::use_future).get();
    auto rest = claim(*s);
    BOOST_TEST_REQUIRE(rest.size() == 3u);
    BOOST_TEST(rest[0].job.uuid == jobs[1].uuid);
    BOOST_TEST(rest[2].job.uuid == jobs[4].uuid);
    for (const auto detail : {outbox_detail::total, outbox_detail::by_type}) {
        const auto stats = async_read_outbox_stats(*s, detail, asio::use_future).get();
        BOOST_TEST(stats.unpublished == 3u);
        BOOST_TEST(stats.oldest_created_ms.value_or(0) == jobs[1].created_ms);
    }
    const auto by_type = async_read_outbox_stats(*s, outbox_detail::by_type, asio::use_future).get();
    BOOST_TEST(by_type.unpublished_by_type[static_cast<std::size_t>(job_type::video)] == 2u);
    BOOST_TEST(by_type.unpublished_by_type[static_cast<std::size_t>(job_type::tts)] == 1u);
    async_mark_published(*s, {{jobs[1].uuid, 1}, {jobs[2].uuid, 1}, {jobs[4].uuid, 1}}, asio::use_future)
        .get();
    for (const auto detail : {outbox_detail::total, outbox_detail::by_type}) {
        const auto stats = async_read_outbox_stats(*s, detail, asio::use_future).get();
        BOOST_TEST(stats.unpublished == 0u);
        BOOST_TEST(!stats.oldest_created_ms.has_value());
    }
}

// A worker may fail a job before the broker's confirm of it is marked: the retry waits for its
// backoff out of the outbox (not relayed meanwhile), and goes back in when the sweep finds it due.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_retry_waits_out_of_the_outbox_until_due, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a");
    create(*s, j);
    BOOST_TEST_REQUIRE(claim(*s).size() == 1u);  // sent, its confirm not marked yet
    auto failed = event(j.uuid, job_status::failed, j.created_ms + 10);
    failed.attempt = 1;
    failed.retryable = true;
    failed.error = "renderer busy";
    apply(*s, {event(j.uuid, job_status::started, j.created_ms + 5), failed});
    const auto waiting = find(*s, "acc_a", j.uuid);
    BOOST_TEST_REQUIRE(waiting.has_value());
    BOOST_TEST((waiting->status == job_status::queued));
    BOOST_TEST(waiting->attempt == 2);
    BOOST_TEST_REQUIRE(waiting->retry_at_ms.has_value());
    BOOST_TEST(claim(*s).empty());
    const auto swept = async_sweep_lifecycle(*s, *waiting->retry_at_ms, 100, asio::use_future).get();
    BOOST_TEST_REQUIRE(swept.due.size() == 1u);
    const auto again = claim(*s);
    BOOST_TEST_REQUIRE(again.size() == 1u);
    BOOST_TEST(again.front().job.attempt == 2);
    // The first attempt's confirm, marked late, leaves the second waiting for its own message.
    async_mark_published(*s, {{j.uuid, 1}}, asio::use_future).get();
    BOOST_TEST(claim(*s).size() == 1u);
    async_mark_published(*s, {{j.uuid, 2}}, asio::use_future).get();
    BOOST_TEST(claim(*s).empty());
}

// Cancelled and retried while the first attempt's message waited for the broker: that message's
// confirm marks the first attempt only; the retry stays in the outbox until its own is confirmed.
BOOST_AUTO_TEST_CASE_TEMPLATE(a_confirm_of_an_earlier_attempt_leaves_a_retry_in_the_outbox, B, backends) {
    B b;
    auto s = b.open();
    auto j = make_job("acc_a");
    create(*s, j);
    BOOST_TEST_REQUIRE(claim(*s).size() == 1u);  // taken by the publisher, not confirmed yet
    async_cancel_job(*s, "acc_a", j.uuid, j.created_ms + 5, asio::use_future).get();
    BOOST_TEST_REQUIRE((find(*s, "acc_a", j.uuid)->status == job_status::cancelled));
    BOOST_TEST(claim(*s).empty());
    async_retry_job(*s, "acc_a", j.uuid, std::nullopt, j.created_ms + 10, asio::use_future).get();
    const auto waiting = claim(*s);
    BOOST_TEST_REQUIRE(waiting.size() == 1u);
    BOOST_TEST(waiting.front().job.attempt == 2);
    async_mark_published(*s, {{j.uuid, 1}}, asio::use_future).get();
    const auto still = claim(*s);
    BOOST_TEST_REQUIRE(still.size() == 1u);
    BOOST_TEST(still.front().job.attempt == 2);
    async_mark_published(*s, {{j.uuid, 2}}, asio::use_future).get();
    BOOST_TEST(claim(*s).empty());
}

// Group commit: writes queued together are committed in one transaction. The writers are held
// while 400 creates queue up, so the outcome does not depend on the machine's speed.
BOOST_AUTO_TEST_CASE_TEMPLATE(concurrent_writers_are_durable_in_few_transactions, B, backends) {
    B b;
    std::vector<job_record> jobs;
    {
        auto s = b.open();
        std::vector<std::future<void>> futures;
        std::uint64_t before = 0;
        {
            auto held = occupy_writers(b, *s);
            before = s->stats().transactions;
            for (int i = 0; i < 400; ++i) {
                jobs.push_back(make_job(i % 2 ? "acc_a" : "acc_b"));
                futures.push_back(async_create_job(*s, jobs.back(), asio::use_future));
            }
            wait_queued(*s, 400);
            held.release();
        }
        for (auto& f : futures) f.get();
        wait_counted(*s, [&](const store_stats& st) { return st.jobs_committed >= 400u + B::writers; });
        const auto st = s->stats();
        BOOST_TEST(st.jobs_committed == 400u + B::writers);
        BOOST_TEST_MESSAGE(B::name << ": 400 queued creates in " << st.transactions - before
                                   << " transactions");
        BOOST_TEST(st.transactions - before == B::writers + 1);
    }
    auto s = b.open();  // reopened: everything acknowledged is there
    for (const auto& j : jobs) BOOST_TEST(find(*s, j.account_id, j.uuid).has_value());
    // All in the outbox (a reopened PostgreSQL store is another instance: the first one's claims
    // still hold, so they are counted, not claimed).
    BOOST_TEST(async_read_outbox_stats(*s, outbox_detail::total, asio::use_future).get().unpublished ==
               400u + B::writers);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(count_jobs_groups_by_type_and_status_across_accounts, B, backends) {
    B b;
    auto s = b.open();
    BOOST_TEST(async_count_jobs(*s, asio::use_future).get().empty());
    auto tts = make_job("acc_b");
    tts.type = job_type::tts;
    create(*s, tts);
    auto first = make_job("acc_a");
    create(*s, first);
    create(*s, make_job("acc_a"));
    BOOST_TEST(apply(*s, {event(first.uuid, job_status::started, first.created_ms + 1)}).size() == 1u);

    std::map<std::pair<job_type, job_status>, std::uint64_t> counts;
    for (const auto& c : async_count_jobs(*s, asio::use_future).get()) counts[{c.type, c.status}] = c.count;
    BOOST_TEST(counts.size() == 3u);
    BOOST_TEST((counts[{job_type::video, job_status::queued}]) == 1u);
    BOOST_TEST((counts[{job_type::video, job_status::started}]) == 1u);
    BOOST_TEST((counts[{job_type::tts, job_status::queued}]) == 1u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(recent_jobs_are_newest_first_and_bounded, B, backends) {
    B b;
    auto s = b.open();
    std::vector<std::string> uuids;
    for (int i = 0; i < 5; ++i) {
        auto j = make_job(i % 2 ? "acc_a" : "acc_b");
        uuids.push_back(j.uuid);
        create(*s, std::move(j));
    }
    auto recent = async_list_recent_jobs(*s, 3, asio::use_future).get();
    BOOST_TEST_REQUIRE(recent.size() == 3u);
    BOOST_TEST(recent[0].uuid == uuids[4]);
    BOOST_TEST(recent[1].uuid == uuids[3]);
    BOOST_TEST(recent[2].uuid == uuids[2]);
    BOOST_TEST(recent[1].account_id == "acc_a");
    BOOST_TEST(async_list_recent_jobs(*s, 50, asio::use_future).get().size() == 5u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(seed_and_catalog, B, backends) {
    B b;
    auto s = b.open();
    seed_data seed;
    seed.accounts.push_back({"acc_a", "Account A", {"key-a-1"}});
    seed.operator_keys.push_back("op-key-1");
    jobsd::model::project p;
    p.id = "p1";
    p.account_id = "acc_a";
    p.name = "Launch";
    p.type = "video";
    p.start_ms = 5;
    seed.projects.push_back(p);
    seed.image_prompts.push_back({"ip1", "acc_a", "Hero", "A photo"});
    s->apply_seed(seed);
    s->apply_seed(seed);  // idempotent
    auto cat = async_load_catalog(*s, asio::use_future).get();
    BOOST_TEST_REQUIRE(cat != nullptr);
    BOOST_TEST(cat->account_by_key_hash.size() == 1u);
    BOOST_TEST(cat->operator_key_hashes.size() == 1u);
    BOOST_TEST_REQUIRE(cat->projects.count("p1") == 1u);
    BOOST_TEST(cat->projects.at("p1").start_ms.value_or(0) == 5);
    BOOST_TEST(!cat->projects.at("p1").end_ms.has_value());
    BOOST_TEST(cat->image_prompts.count("ip1") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// Several instances on one PostgreSQL database.
BOOST_AUTO_TEST_SUITE(shared_database)

BOOST_AUTO_TEST_CASE(a_second_claimer_does_not_get_claimed_jobs) {
    pg_backend b;
    auto a = b.open();
    auto other = b.open();
    std::vector<job_record> jobs;
    for (int i = 0; i < 4; ++i) {
        jobs.push_back(make_job("acc_a"));
        create(*a, jobs.back());  // claimed by `a`, which publishes what it commits
    }
    BOOST_TEST(claim(*other).empty());
    BOOST_TEST(claim(*a).size() == 4u);  // its own claims come back (and are renewed)
    // A job neither holds: exactly one of two racing claimers gets it.
    b.schema.exec("UPDATE jobs SET claimed_by = NULL, claimed_until = NULL");
    auto f1 = async_claim_unpublished(*a, 0, 100, asio::use_future);
    auto f2 = async_claim_unpublished(*other, 0, 100, asio::use_future);
    auto r1 = f1.get();
    auto r2 = f2.get();
    std::set<std::string> seen;
    for (const auto& e : r1) seen.insert(e.job.uuid);
    for (const auto& e : r2) BOOST_TEST(seen.insert(e.job.uuid).second, e.job.uuid << " claimed twice");
    BOOST_TEST(seen.size() == 4u);
}

// A renewal keeps every claim still this instance's, also on a job it has marked published
// meanwhile (nobody else can claim that row), and none of another instance's.
BOOST_AUTO_TEST_CASE(a_renewal_keeps_own_claims_published_or_not) {
    pg_backend b;
    auto a = b.open();
    auto other = b.open();
    const auto marked = make_job("acc_a");
    const auto held = make_job("acc_a");
    const auto theirs = make_job("acc_a");
    create(*a, marked);
    create(*a, held);
    create(*other, theirs);
    async_mark_published(*a, {{marked.uuid, 1}}, asio::use_future).get();
    auto kept = async_renew_claims(*a, {marked.uuid, held.uuid, theirs.uuid}, asio::use_future).get();
    std::sort(kept.begin(), kept.end());
    std::vector<std::string> mine{marked.uuid, held.uuid};
    std::sort(mine.begin(), mine.end());
    BOOST_TEST(kept == mine, boost::test_tools::per_element());
}

// A lease long enough that a loaded machine never outruns it by accident (the "survivor gets
// nothing" checks), and a wait for the hand-over instead of a sleep.
BOOST_AUTO_TEST_CASE(lease_expiry_hands_jobs_over) {
    constexpr auto lease = 5s;
    pg_backend b;
    auto dead = b.open(lease);
    auto survivor = b.open(lease);
    auto j = make_job("acc_a");
    create(*dead, j);
    BOOST_TEST(claim(*survivor).empty());
    dead.reset();  // stopped without publishing
    std::vector<outbox_entry> taken;
    const auto after = jobsd::test::within(60s, [&] {
        taken = claim(*survivor);
        return !taken.empty();
    });
    BOOST_TEST_REQUIRE(after.has_value(), "the survivor never got the dead instance's job");
    BOOST_TEST_MESSAGE("taken over " << after->count() << " ms after the holder stopped (lease 5000 ms)");
    BOOST_TEST_REQUIRE(taken.size() == 1u);
    BOOST_TEST(taken[0].job.uuid == j.uuid);
    auto third = b.open(lease);
    BOOST_TEST(claim(*third).empty());  // the survivor holds it now
    async_mark_published(*survivor, {{j.uuid, 1}}, asio::use_future).get();
    BOOST_TEST(b.schema.exec("SELECT published FROM jobs WHERE uuid = '" + j.uuid + "'") == "t");
}

BOOST_AUTO_TEST_CASE(events_from_two_instances_end_forward) {
    pg_backend b;
    auto a = b.open();
    auto other = b.open();
    auto j = make_job("acc_a");
    create(*a, j);
    // Both consume the same redelivered stream, interleaved and concurrently.
    auto f1 = async_apply_events(
        *a, {event(j.uuid, job_status::started, 1), event(j.uuid, job_status::success, 3)}, asio::use_future);
    auto f2 = async_apply_events(
        *other,
        {event(j.uuid, job_status::started, 1), event(j.uuid, job_status::in_progress, 2, 50),
         event(j.uuid, job_status::success, 3)},
        asio::use_future);
    const auto n = f1.get().size() + f2.get().size();
    BOOST_TEST(n >= 2u);
    BOOST_TEST(n <= 3u);
    BOOST_TEST((find(*a, "acc_a", j.uuid)->status == job_status::success));
    BOOST_TEST(apply(*other, {event(j.uuid, job_status::in_progress, 4, 90)}).empty());
}

BOOST_AUTO_TEST_CASE(two_instances_migrate_at_once) {
    jobsd::test::pg_test_schema schema;
    auto open = [&] {
        pg_options o;
        o.url = schema.url();
        return std::make_unique<pg_store>(o);
    };
    auto f1 = std::async(std::launch::async, open);
    auto f2 = std::async(std::launch::async, open);
    auto s1 = f1.get();
    auto s2 = f2.get();
    BOOST_TEST(schema.exec("SELECT version FROM jobsd_schema") == std::to_string(pg_schema_version()));
    BOOST_TEST(schema.exec("SELECT count(*) FROM jobsd_schema") == "1");
    auto j = make_job("acc_a");
    create(*s1, j);
    BOOST_TEST(find(*s2, "acc_a", j.uuid).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// A database as an earlier jobsd left it: only the first `version` migration steps applied, each
// dialect's own way. The newest before the job lifecycle (issue 16) is the list and batch step
// (issue 17): SQLite 4, PostgreSQL 5; the lifecycle is the step after it on each.
struct sqlite_history {
    static constexpr int lists_step = 4, lifecycle_step = 5, webhook_steps = 2, trace_step = 8,
                         own_webhook_step = 9, outbox_table_step = 10, session_index_step = 11,
                         newest_step = session_index_step;
    static void migrate_to(sqlite_backend& b, int version) {
        sqlite_db db(b.dir.path() / "jobs.db", sqlite_db::mode::read_write);
        migrate_sqlite_to(db, version);
    }
    static void exec(sqlite_backend& b, const std::string& sql) {
        sqlite_db(b.dir.path() / "jobs.db", sqlite_db::mode::read_write).exec(sql);
    }
    static std::int64_t version(sqlite_backend& b) {
        return sqlite_db(b.dir.path() / "jobs.db", sqlite_db::mode::read_write)
            .query_int("PRAGMA user_version");
    }
    static int newest() { return sqlite_schema_version(); }
};

struct pg_history {
    static constexpr int lists_step = 5, lifecycle_step = 6, webhook_steps = 1, trace_step = 8,
                         own_webhook_step = 9, dead_letter_overrule_step = 10, expired_overrule_step = 11,
                         success_clears_error_step = 12, queued_expiring_step = 13,
                         newest_step = queued_expiring_step;
    static void migrate_to(pg_backend& b, int version) {
        std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(b.schema.url().c_str()), &PQfinish);
        if (PQstatus(conn.get()) != CONNECTION_OK)
            throw std::runtime_error("test PostgreSQL cluster unreachable: " +
                                     std::string(PQerrorMessage(conn.get())));
        migrate_pg_to(conn.get(), version);
    }
    static void exec(pg_backend& b, const std::string& sql) { b.schema.exec(sql); }
    static std::int64_t version(pg_backend& b) {
        return std::stoll(b.schema.exec("SELECT version FROM jobsd_schema"));
    }
    static int newest() { return pg_schema_version(); }
};

template <class B>
using history_of = std::conditional_t<std::is_same_v<B, sqlite_backend>, sqlite_history, pg_history>;

BOOST_AUTO_TEST_SUITE(upgrades)

// The lifecycle step comes after the list and batch step on each dialect, the webhook steps
// (store/webhook_schema.hpp) after it, the trace step after those, then the step that moves a
// job's own webhook into its row, and on SQLite the outbox table after that.
BOOST_AUTO_TEST_CASE_TEMPLATE(the_lifecycle_step_follows_the_list_step, B, backends) {
    using H = history_of<B>;
    BOOST_TEST(H::newest() == H::newest_step);
    BOOST_TEST(H::lifecycle_step == H::lists_step + 1);
    BOOST_TEST(H::trace_step == H::lifecycle_step + H::webhook_steps + 1);
    BOOST_TEST(H::own_webhook_step == H::trace_step + 1);
}

// A job that named its own webhook URL under the trace step (kept then in job_webhooks) still
// gets its delivery after the upgrade moved the URL into its row; a job without one gets none.
BOOST_AUTO_TEST_CASE_TEMPLATE(an_own_webhook_survives_the_upgrade, B, backends) {
    using H = history_of<B>;
    B b;
    H::migrate_to(b, H::trace_step);
    const std::string hooked = jobsd::model::new_uuid(), plain = jobsd::model::new_uuid();
    for (const auto& uuid : {hooked, plain})
        H::exec(b,
                "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, input, created_ms,"
                " updated_ms) VALUES ('" +
                    uuid + "', 'acc_a', 'project-1', 'video', 'QUEUED', '{}', 1, 1)");
    H::exec(b, "INSERT INTO job_webhooks (job_uuid, url, dest, events) VALUES ('" + hooked +
                   "', 'https://own.example/cb', 'https://own.example', 31)");
    auto s = b.open();
    BOOST_TEST(H::version(b) == H::newest());
    BOOST_TEST(
        apply(*s, {event(hooked, job_status::success, 2), event(plain, job_status::success, 2)}).size() ==
        2u);
    claim_request r;
    r.now_ms = jobsd::model::now_ms();
    r.limit = r.per_dest = 10;
    r.lease_until_ms = r.now_ms + 60'000;
    auto due = async_webhook<std::vector<due_delivery>>(*s->webhooks(), &webhook_store::claim_deliveries,
                                                        asio::use_future, r)
                   .get();
    BOOST_TEST_REQUIRE(due.size() == 1u);
    BOOST_TEST(due[0].url == "https://own.example/cb");
    BOOST_TEST(due[0].dest == "https://own.example");
    BOOST_TEST(due[0].event == "job.succeeded");
    BOOST_TEST_REQUIRE(due[0].job.has_value());
    BOOST_TEST(due[0].job->uuid == hooked);
}

// SQLite's outbox step (10) moves the flag into a table of its own: a job that waited for the
// broker still waits (claimed, counted, expired when its deadline passes), one the broker had
// stays out (not sent again, not expired by the sweep), and a held job stays held until released.
BOOST_AUTO_TEST_CASE(sqlite_jobs_keep_their_place_through_the_outbox_step) {
    using H = sqlite_history;
    sqlite_backend b;
    H::migrate_to(b, H::outbox_table_step - 1);
    const std::string waiting = jobsd::model::new_uuid(), sent = jobsd::model::new_uuid(),
                      held = jobsd::model::new_uuid(), late = jobsd::model::new_uuid(),
                      late_sent = jobsd::model::new_uuid();
    const auto row = [&](const std::string& uuid, int published, const char* fair_key, const char* expires) {
        H::exec(b,
                "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, input, created_ms,"
                " updated_ms, published, fair_key, expires_at_ms) VALUES ('" +
                    uuid + "', 'acc_a', 'project-1', 'video', 'QUEUED', '{}', 1, 1, " +
                    std::to_string(published) + ", " + fair_key + ", " + expires + ")");
    };
    row(waiting, 0, "NULL", "NULL");
    row(sent, 1, "NULL", "NULL");
    row(held, 1, "1.5", "NULL");
    row(late, 0, "NULL", "2");
    row(late_sent, 1, "NULL", "2");
    auto s = b.open();
    BOOST_TEST(H::version(b) == H::newest());
    const auto uuids = [](const std::vector<outbox_entry>& entries) {
        std::vector<std::string> out;
        for (const auto& e : entries) out.push_back(e.job.uuid);
        return out;
    };
    BOOST_TEST(uuids(claim(*s)) == (std::vector<std::string>{waiting, late}));
    for (const auto detail : {outbox_detail::total, outbox_detail::by_type})
        BOOST_TEST(async_read_outbox_stats(*s, detail, asio::use_future).get().unpublished == 2u);

    const auto swept = async_sweep_lifecycle(*s, 10, 100, asio::use_future).get();
    BOOST_TEST_REQUIRE(swept.expired.size() == 1u);
    BOOST_TEST(swept.expired.front().event.uuid == late);
    BOOST_TEST((find(*s, "acc_a", late_sent)->status == job_status::queued));
    BOOST_TEST(uuids(claim(*s)) == (std::vector<std::string>{waiting}));

    const auto released = async_release_held(*s, jobsd::model::job_type::video, 10, asio::use_future).get();
    BOOST_TEST_REQUIRE(released.size() == 1u);
    BOOST_TEST(released.front().uuid == held);
    BOOST_TEST(uuids(claim(*s)) == (std::vector<std::string>{waiting, held}));
    async_mark_published(*s, {{waiting, 1}, {held, 1}}, asio::use_future).get();
    BOOST_TEST(claim(*s).empty());
}

// SQLite's sessions' index step (11) indexes the jobs already there: a session's jobs from before
// it are listed (from session_jobs, newest first), and so are those created after it (by seq
// until the writer's next catch-up), one page across both.
BOOST_AUTO_TEST_CASE(sqlite_sessions_keep_their_jobs_through_the_session_index_step) {
    using H = sqlite_history;
    sqlite_backend b;
    H::migrate_to(b, H::session_index_step - 1);
    std::vector<std::string> before;
    for (int i = 0; i < 3; ++i) {
        before.push_back(jobsd::model::new_uuid());
        H::exec(b,
                "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input,"
                " created_ms, updated_ms) VALUES ('" +
                    before.back() + "', 'acc_a', 'project-1', 'video', 'QUEUED', '" +
                    (i == 1 ? "other" : "s1") + "', '{}', " + std::to_string(10 + i) + ", 1)");
    }
    auto s = b.open();
    BOOST_TEST(H::version(b) == H::newest());
    BOOST_TEST(sqlite_db(b.dir.path() / "jobs.db", sqlite_db::mode::read_write)
                   .query_int("SELECT count(*) FROM session_jobs") == 3);
    auto later = make_job("acc_a");
    later.session_id = "s1";
    later.created_ms = 20;
    create(*s, later);
    job_query q;
    q.account_id = "acc_a";
    q.session_id = "s1";
    const auto page = async_list_jobs(*s, q, asio::use_future).get();
    std::vector<std::string> uuids;
    for (const auto& j : page) uuids.push_back(j.uuid);
    BOOST_TEST(uuids == (std::vector<std::string>{later.uuid, before[2], before[0]}));
}

// A database from before the list step and one from just after it (the jobsd before the
// lifecycle): opening applies every missing step in order, the old job reads back on its first
// attempt, the lifecycle works on it, and new jobs (single and batch) keep their time to live.
BOOST_AUTO_TEST_CASE_TEMPLATE(an_earlier_database_is_upgraded_step_by_step, B, backends) {
    using H = history_of<B>;
    for (const int from : {H::lists_step - 1, H::lists_step, H::lifecycle_step}) {
        BOOST_TEST_CONTEXT("from schema version " << from) {
            B b;
            H::migrate_to(b, from);
            BOOST_TEST(H::version(b) == from);
            const std::string old_uuid = jobsd::model::new_uuid();
            H::exec(b,
                    "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, input, created_ms,"
                    " updated_ms) VALUES ('" +
                        old_uuid + "', 'acc_a', 'project-1', 'video', 'QUEUED', '{}', 1, 1)");
            auto s = b.open();
            BOOST_TEST(H::version(b) == H::newest());
            auto old = find(*s, "acc_a", old_uuid);
            BOOST_TEST_REQUIRE(old.has_value());
            BOOST_TEST(old->attempt == 1);
            BOOST_TEST(!old->expires_at_ms.has_value());
            BOOST_TEST(old->batch_id.empty());
            BOOST_TEST(old->traceparent.empty());  // a job from before traces has none
            auto c = async_cancel_job(*s, "acc_a", old_uuid, 2, asio::use_future).get();
            BOOST_TEST((c.what == cancel_outcome::kind::cancelled));

            auto single = make_job("acc_a");
            single.expires_in_ms = 60'000;
            single.expires_at_ms = single.created_ms + 60'000;
            create(*s, single);
            std::vector<job_record> batch{make_job("acc_a"), make_job("acc_a"), make_job("acc_a")};
            for (auto& j : batch) j.batch_id = "batch-" + batch.front().uuid;
            batch[1].expires_in_ms = 5'000;  // the batch's jobs each keep their own
            batch[1].expires_at_ms = batch[1].created_ms + 5'000;
            batch[2].expires_in_ms = 9'000;
            batch[2].expires_at_ms = batch[2].created_ms + 9'000;
            batch[0].traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            batch[2].traceparent = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00";
            async_create_jobs(*s, batch, asio::use_future).get();
            BOOST_TEST((find(*s, "acc_a", single.uuid)->expires_at_ms == single.expires_at_ms));
            for (const auto& j : batch) {
                auto got = find(*s, "acc_a", j.uuid);
                BOOST_TEST_REQUIRE(got.has_value());
                BOOST_TEST(got->batch_id == j.batch_id);
                BOOST_TEST((got->expires_in_ms == j.expires_in_ms));
                BOOST_TEST((got->expires_at_ms == j.expires_at_ms));
                BOOST_TEST(got->attempt == 1);
                BOOST_TEST(got->traceparent == j.traceparent);  // each its own; none for batch[1]
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pg_startup)

BOOST_AUTO_TEST_CASE(unparseable_url_is_invalid_argument) {
    store_config o;
    o.url = "postgres://user@host:notaport:x/db?=";
    try {
        open_store(o);
        BOOST_ERROR("opened a store with a broken URL");
    } catch (const std::invalid_argument& e) {
        BOOST_TEST_MESSAGE(e.what());
        BOOST_TEST(std::string(e.what()).find("store.url") != std::string::npos);
    } catch (const std::exception& e) {
        BOOST_ERROR("expected invalid_argument, got: " << e.what());
    }
}

BOOST_AUTO_TEST_CASE(refused_connection_names_the_server_without_password) {
    store_config o;
    o.url = "postgres://jobsd:secret@127.0.0.1:1/jobsd";
    try {
        open_store(o);
        BOOST_ERROR("opened a store on a closed port");
    } catch (const pg_error& e) {
        const std::string what = e.what();
        BOOST_TEST_MESSAGE(what);
        BOOST_TEST(what.find("cannot connect to postgres://jobsd:***@127.0.0.1:1/jobsd") !=
                   std::string::npos);
        BOOST_TEST(what.find("secret") == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(newer_schema_is_refused) {
    jobsd::test::pg_test_schema schema;
    {
        pg_options o;
        o.url = schema.url();
        pg_store s(o);
    }
    schema.exec("UPDATE jobsd_schema SET version = 99");
    pg_options o;
    o.url = schema.url();
    BOOST_CHECK_EXCEPTION(pg_store s(o), pg_error, [](const pg_error& e) {
        return std::string(e.what()).find("newer than this jobsd") != std::string::npos;
    });
}

BOOST_AUTO_TEST_SUITE_END()

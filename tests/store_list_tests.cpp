// The job list and the batch at the store: every list query shape is read through an index (SQLite
// EXPLAIN QUERY PLAN, PostgreSQL EXPLAIN on a table large enough for the planner to care; in index
// order unless PostgreSQL finds that a selective filter leaves few rows to sort), and create_jobs
// is all or none when its key is taken.
#define BOOST_TEST_MODULE store_list
#include <boost/test/unit_test.hpp>

#include <boost/asio/use_future.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <future>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "model/uuid.hpp"
#include "store/job_query.hpp"
#include "store/pg_job_row.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_job_row.hpp"
#include "store/sqlite_session_index.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_error.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"

namespace asio = boost::asio;
using namespace jobsd::store;
using namespace std::chrono_literals;
using jobsd::model::job_status;
using jobsd::model::job_type;

namespace {

// Every shape the list handler can ask for, with a position (a later page) or without.
std::vector<job_query> query_shapes() {
    std::vector<job_query> out;
    for (int mask = 0; mask < 64; ++mask) {
        job_query q;
        q.account_id = "acc1";
        q.limit = 101;
        if (mask & 1) q.session_id = "s1";
        if (mask & 2) q.statuses = {job_status::queued, job_status::failed};
        if (mask & 4) q.type = job_type::video;
        if (mask & 8) q.source_id = "p1";
        if (mask & 16) q.created_after = 1, q.created_before = 2'000'000'000'000;
        if (mask & 32) q.after = job_position{1'700'000'100'000, jobsd::model::new_uuid()};
        out.push_back(std::move(q));
    }
    return out;
}

std::string describe(const job_query& q) {
    return list_jobs_sql(q, "uuid", false).sql;
}

job_record make_job(std::string account, std::string batch) {
    job_record j;
    j.uuid = jobsd::model::new_uuid();
    j.account_id = std::move(account);
    j.source_id = "p";
    j.type = job_type::video;
    j.session_id = "s";
    j.input = "{}";
    j.created_ms = j.updated_ms = 1'700'000'000'000;
    j.batch_id = std::move(batch);
    return j;
}

template <class Store>
std::error_code create_all(Store& s, std::vector<job_record> jobs) {
    return async_create_jobs(s, std::move(jobs), asio::use_future([](error_code ec) { return ec; })).get();
}

template <class Store>
std::vector<job_record> batch_of(Store& s, const std::string& account, const std::string& batch) {
    return async_list_batch(s, account, batch, asio::use_future([](error_code ec, std::vector<job_record> v) {
                                BOOST_TEST(!ec);
                                return v;
                            }))
        .get();
}

// A taken key fails the whole batch: none of its jobs are written.
template <class Store>
void check_all_or_none(Store& s) {
    auto keyed = make_job("acc", "b1");
    keyed.idempotency_key = "k";
    keyed.request_hash = "h";
    std::vector<job_record> first{keyed, make_job("acc", "b1"), make_job("acc", "b1")};
    BOOST_TEST(!create_all(s, first));
    const auto stored = batch_of(s, "acc", "b1");
    BOOST_TEST_REQUIRE(stored.size() == 3u);
    for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(stored[i].uuid == first[i].uuid, "order of the batch");
    BOOST_TEST(stored[0].idempotency_key == "k");
    BOOST_TEST(batch_of(s, "other", "b1").empty(), "another account's batch");

    auto again = make_job("acc", "b2");
    again.idempotency_key = "k";
    again.request_hash = "h2";
    BOOST_TEST(create_all(s, {again, make_job("acc", "b2")}) == error_code(store_errc::duplicate));
    BOOST_TEST(batch_of(s, "acc", "b2").empty(), "a refused batch left jobs behind");
}

}  // namespace

BOOST_AUTO_TEST_CASE(sqlite_reads_every_list_through_an_index) {
    jobsd::test::temp_dir dir("jobsd-list");
    {
        sqlite_options o;
        o.path = dir.path() / "jobs.db";
        sqlite_store created(o);  // migrates
        check_all_or_none(created);
    }
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open((dir.path() / "jobs.db").c_str(), &db) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> guard(db, &sqlite3_close);
    for (const auto& q : query_shapes()) {
        const auto sql = list_jobs_sql(q, sqlite_job_columns, false);
        sqlite3_stmt* st = nullptr;
        BOOST_TEST_REQUIRE(
            sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql.sql).c_str(), -1, &st, nullptr) == SQLITE_OK);
        std::string plan;
        while (sqlite3_step(st) == SQLITE_ROW)
            plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + "; ";
        sqlite3_finalize(st);
        BOOST_TEST_CONTEXT(sql.sql) {
            BOOST_TEST(plan.find("SCAN jobs") == std::string::npos, "a walk of the whole table: " << plan);
            if (!q.session_id) {
                BOOST_TEST(plan.find("USING INDEX jobs_account_created") != std::string::npos, plan);
                BOOST_TEST(plan.find("TEMP B-TREE") == std::string::npos,
                           "a sort instead of the index order: " << plan);
                continue;
            }
            // A session's page: session_jobs in its key order (the page's rows sorted only when
            // merged), joined to the jobs by seq, and the jobs since its last catch-up by seq.
            BOOST_TEST(
                plan.find("SEARCH s USING PRIMARY KEY (account_id=? AND session_id=?") != std::string::npos,
                plan);
            BOOST_TEST(plan.find("SEARCH jobs USING INTEGER PRIMARY KEY (rowid=?)") != std::string::npos,
                       plan);
            BOOST_TEST(plan.find("SEARCH jobs USING INTEGER PRIMARY KEY (rowid>?)") != std::string::npos,
                       plan);
        }
    }
}

// A session's jobs are read from session_jobs up to the writer's last catch-up and by seq after
// it: pages that cross the two miss none, repeat none and keep the order, whichever side holds
// the newer created_ms.
BOOST_AUTO_TEST_CASE(sqlite_lists_a_session_across_its_index_and_the_jobs_since) {
    jobsd::test::temp_dir dir("jobsd-list");
    sqlite_options o;
    o.path = dir.path() / "jobs.db";
    o.session_index_rows = 4;  // caught up at every fourth job committed
    o.session_index_interval = 1h;
    sqlite_store s(o);
    std::vector<job_record> mine;
    for (int i = 0; i < 22; ++i) {
        auto j = make_job("acc", "");
        j.session_id = i % 2 ? "s2" : "s1";
        j.created_ms = 1'700'000'000'000 + (i * 7) % 22;  // commit order is not time order
        if (i % 5 == 0) j.type = job_type::pdf;
        BOOST_TEST_REQUIRE(!create_all(s, {j}));
        if (j.session_id == "s1") mine.push_back(j);
    }
    sqlite_db db(o.path, sqlite_db::mode::read_only);
    const auto indexed = db.query_int("SELECT count(*) FROM session_jobs");
    BOOST_TEST(indexed == 20);  // caught up at the 4th, 8th, … 20th: two wait, read by seq
    BOOST_TEST(db.query_int("SELECT count(*) FROM jobs WHERE seq > (SELECT seq FROM session_jobs_through)") ==
               2);

    std::sort(mine.begin(), mine.end(), [](const job_record& a, const job_record& b) {
        return std::tie(a.created_ms, a.uuid) > std::tie(b.created_ms, b.uuid);
    });
    const auto list = [&](job_query q) { return async_list_jobs(s, std::move(q), asio::use_future).get(); };
    job_query q;
    q.account_id = "acc";
    q.session_id = "s1";
    q.limit = 3;
    std::vector<std::string> paged;
    for (auto page = list(q); !page.empty(); page = list(q)) {
        for (const auto& j : page) paged.push_back(j.uuid);
        q.after = job_position{page.back().created_ms, page.back().uuid};
    }
    std::vector<std::string> expected;
    for (const auto& j : mine) expected.push_back(j.uuid);
    BOOST_TEST(paged == expected, "pages of three, newest first");

    q.after.reset();
    q.limit = 50;
    q.type = job_type::pdf;
    expected.clear();
    for (const auto& j : mine)
        if (j.type == job_type::pdf) expected.push_back(j.uuid);
    std::vector<std::string> filtered;
    for (const auto& j : list(q)) filtered.push_back(j.uuid);
    BOOST_TEST(filtered == expected, "the type filter on both sides");
}

// A catch-up longer than a slice is written over several transactions: session_jobs_through
// moves only with its last slice, the rows written before that are left out of a session's
// page (those jobs are read by seq), and no page misses or repeats a job. A store reopened
// half-way writes the generation again over what is there.
BOOST_AUTO_TEST_CASE(sqlite_writes_a_long_catch_up_in_slices) {
    constexpr std::size_t slice = sqlite_session_index::slice_rows;
    constexpr std::size_t generation = 2 * slice + slice / 2;  // three slices
    jobsd::test::temp_dir dir("jobsd-list");
    sqlite_options o;
    o.path = dir.path() / "jobs.db";
    o.session_index_rows = static_cast<std::int64_t>(generation);
    o.session_index_interval = 1h;
    std::vector<job_record> mine;  // session s1's
    std::size_t created = 0;
    const auto create_one = [&](sqlite_store& s, std::vector<job_record> jobs) {
        for (auto& j : jobs) {
            if (j.session_id == "s") j.session_id = created % 3 ? "s2" : "s1";
            j.created_ms = 1'700'000'000'000 + static_cast<std::int64_t>((created * 7) % 50);
            if (j.session_id == "s1") mine.push_back(j);
            ++created;
        }
        BOOST_TEST_REQUIRE(!create_all(s, std::move(jobs)));
    };
    const auto check_pages = [&](sqlite_store& s, const std::string& when) {
        auto expected = mine;
        std::sort(expected.begin(), expected.end(), [](const job_record& a, const job_record& b) {
            return std::tie(a.created_ms, a.uuid) > std::tie(b.created_ms, b.uuid);
        });
        job_query q;
        q.account_id = "acc";
        q.session_id = "s1";
        q.limit = 40;
        std::vector<std::string> paged;
        for (auto page = async_list_jobs(s, q, asio::use_future).get(); !page.empty();
             page = async_list_jobs(s, q, asio::use_future).get()) {
            for (const auto& j : page) paged.push_back(j.uuid);
            q.after = job_position{page.back().created_ms, page.back().uuid};
        }
        std::vector<std::string> uuids;
        for (const auto& j : expected) uuids.push_back(j.uuid);
        BOOST_TEST(paged == uuids, when << ": s1's pages of 40, newest first");
    };
    const auto indexed = [&] {
        sqlite_db db(o.path, sqlite_db::mode::read_only);
        return std::pair{db.query_int("SELECT count(*) FROM session_jobs"),
                         db.query_int("SELECT seq FROM session_jobs_through")};
    };
    // One more job in a session after s1 and s2 in the index's order, so a generation read after
    // it starts with the same keys as one read before.
    const auto later = [] {
        auto j = make_job("acc", "");
        j.session_id = "s9";
        return j;
    };
    using counts = std::pair<std::int64_t, std::int64_t>;
    const auto n = [](std::size_t v) { return static_cast<std::int64_t>(v); };
    {
        sqlite_store s(o);
        std::vector<job_record> first;
        for (std::size_t i = 0; i < generation; ++i) first.push_back(make_job("acc", ""));
        create_one(s, std::move(first));  // one transaction; its keys are read by the next
        BOOST_TEST((indexed() == counts{0, 0}));
        check_pages(s, "before the catch-up");
        create_one(s, {later()});
        BOOST_TEST((indexed() == counts{n(slice), 0}), "the first slice, the seq not moved");
        check_pages(s, "after one slice");
        create_one(s, {later()});
        BOOST_TEST((indexed() == counts{n(2 * slice), 0}));
        check_pages(s, "after two slices");
    }
    sqlite_store s(o);  // reopened with the last slice not written
    check_pages(s, "reopened");
    create_one(s, {later()});
    BOOST_TEST((indexed() == counts{n(2 * slice), 0}), "the first slice again, over its own rows");
    create_one(s, {later()});
    BOOST_TEST((indexed() == counts{n(2 * slice), 0}));
    check_pages(s, "written again in part");
    create_one(s, {later()});
    // The generation read at the reopening: every job committed before it.
    BOOST_TEST((indexed() == counts{n(generation + 2), n(generation + 2)}), "the last slice moves the seq");
    check_pages(s, "caught up");
}

BOOST_AUTO_TEST_CASE(postgres_reads_every_list_through_an_index) {
    jobsd::test::pg_test_schema schema;
    {
        pg_options o;
        o.url = schema.url();
        pg_store created(o);  // migrates
        check_all_or_none(created);
    }
    // 200 000 jobs over 100 accounts and 50 sessions each: enough rows for the planner to prefer
    // an index over a scan and a sort, as it would on a real table.
    schema.exec(
        "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms, "
        "updated_ms) SELECT md5(i::text), 'acc' || (i % 100), 'p' || (i % 7), 'video', 'QUEUED', 's' || (i % "
        "50),"
        " '{}', 1700000000000 + i, 1700000000000 + i FROM generate_series(1, 200000) i");
    schema.exec("ANALYZE jobs");
    // EXPLAIN answers one row per line: a function joins them into one value.
    schema.exec(
        "CREATE FUNCTION plan_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $f$ DECLARE r text; BEGIN"
        " FOR r IN EXECUTE 'EXPLAIN ' || q LOOP RETURN NEXT r; END LOOP; END $f$");
    for (const auto& q : query_shapes()) {
        const auto sql = list_jobs_sql(q, pg_job_columns, true);
        std::string text = sql.sql;
        // EXPLAIN of a statement with parameters needs their values: they go in as literals.
        for (std::size_t i = sql.params.size(); i >= 1; --i) {
            const auto& p = sql.params[i - 1];
            const std::string literal = std::holds_alternative<std::int64_t>(p)
                                            ? std::to_string(std::get<std::int64_t>(p))
                                            : "'" + std::get<std::string>(p) + "'";
            const std::string placeholder = "$" + std::to_string(i);
            for (auto pos = text.find(placeholder); pos != std::string::npos; pos = text.find(placeholder))
                text.replace(pos, placeholder.size(), literal);
        }
        BOOST_TEST_CONTEXT(describe(q)) {
            const std::string joined =
                schema.exec("SELECT string_agg(p, ' | ') FROM plan_lines($q$" + text + "$q$) p");
            const auto index = q.session_id ? "jobs_account_session" : "jobs_account_created";
            BOOST_TEST(joined.find(index) != std::string::npos, joined);
            // The planner may sort the few rows a selective filter leaves (a bitmap scan of the
            // same index), but never reads the whole table.
            BOOST_TEST(joined.find("Seq Scan") == std::string::npos, joined);
            if (!q.source_id && !q.session_id)
                BOOST_TEST(joined.find("Sort") == std::string::npos,
                           "a sort instead of the index order: " << joined);
        }
    }
}

// Unit tests of store/: the SQLite store (jobs, isolation, group commit, reopening, schema
// version, seed and catalog), the seed file reader and the store factory.
#define BOOST_TEST_MODULE store
#include <boost/test/unit_test.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/system/system_error.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "store/seed.hpp"
#include "store/sqlite_store.hpp"
#include "store/store.hpp"
#include "store/store_error.hpp"
#include "store/store_factory.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/sqlite_file.hpp"
#include "tests/support/wait.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace jobsd::store;
using jobsd::model::job_status;
using jobsd::model::job_type;

namespace {

// The test support's scratch directory, with the database file these tests use.
struct temp_dir : jobsd::test::temp_dir {
    temp_dir() : jobsd::test::temp_dir("jobsd-store-tests") {}
    fs::path db() const { return path() / "jobs.db"; }
};

sqlite_options options_for(const fs::path& db) {
    sqlite_options o;
    o.path = db;
    return o;
}

job_record make_job(std::string account, std::string input = R"({"type":"video"})") {
    job_record j;
    j.uuid = jobsd::model::new_uuid();
    j.account_id = std::move(account);
    j.source_id = "project-1";
    j.type = job_type::video;
    j.session_id = "session-1";
    j.input = std::move(input);
    j.created_ms = 1'700'000'000'000;
    j.updated_ms = j.created_ms;
    return j;
}

void create(store& s, job_record j) {
    async_create_job(s, std::move(j), asio::use_future).get();
}

std::optional<job_record> find(store& s, std::string account, std::string uuid) {
    return async_find_job(s, std::move(account), std::move(uuid), asio::use_future).get();
}

catalog_ptr catalog_of(store& s) {
    return async_load_catalog(s, asio::use_future).get();
}

// The error a create_job future completed with, or success.
error_code outcome(std::future<void>& f) {
    try {
        f.get();
        return {};
    } catch (const boost::system::system_error& e) {
        return e.code();
    }
}

// Direct SQLite access, to look at what the store wrote (or to prepare a file it must refuse).
class raw_db {
  public:
    explicit raw_db(const fs::path& file) {
        if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
            SQLITE_OK)
            throw std::runtime_error("cannot open " + file.string());
        sqlite3_busy_timeout(db_, 5000);
    }
    ~raw_db() { sqlite3_close(db_); }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;

    void exec(const std::string& sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error(msg + " in: " + sql);
        }
    }
    // The first column of the first row as text ("<null>" for NULL, "<none>" for no row).
    std::string text(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
            throw std::runtime_error(std::string(sqlite3_errmsg(db_)) + " in: " + sql);
        std::string out = "<none>";
        if (sqlite3_step(st) == SQLITE_ROW) {
            const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
            out = p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, 0))) : "<null>";
        }
        sqlite3_finalize(st);
        return out;
    }
    std::int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }

  private:
    sqlite3* db_ = nullptr;
};

void write_file(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
    BOOST_REQUIRE_MESSAGE(out.good(), "cannot write " << file);
}

constexpr std::string_view seed_v1 = R"({
  // Two accounts; comments and trailing commas are allowed in seed files.
  "accounts": [
    {
      "id": "acc_a",
      "name": "Account A",
      "keys": ["key-a-one", "key-a-two"],
      "projects": [
        {
          "id": "p1",
          "name": "Launch",
          "type": "video",
          "start_date": "2024-01-02T03:04:05Z",
          "end_date": "2024-12-31",
          "mapping_fields": {"headline": {"label": "Headline", "instructionType": "text"}}
        },
        {"id": "p2", "type": "tts", "start_date": null, "end_date": null},
      ],
      "image_prompts": [{"id": "ip1", "name": "Hero", "prompt": "A studio photo, soft light"}]
    },
    {"id": "acc_b", "name": "Account B", "keys": ["key-b-one"], "projects": [{"id": "p3", "name": "B's"}]}
  ],
  "operator_keys": ["op-key-one"]
})";

// The same ids as seed_v1 with every name changed.
constexpr std::string_view seed_v2 = R"({
  "accounts": [
    {
      "id": "acc_a",
      "name": "Account A renamed",
      "keys": ["key-a-one", "key-a-two"],
      "projects": [
        {
          "id": "p1",
          "name": "Launch v2",
          "type": "video",
          "start_date": "2024-01-02T03:04:05Z",
          "end_date": "2024-12-31",
          "mapping_fields": {"headline": {"label": "Headline", "instructionType": "text"}}
        },
        {"id": "p2", "type": "tts"}
      ],
      "image_prompts": [{"id": "ip1", "name": "Hero v2", "prompt": "A studio photo, soft light"}]
    },
    {"id": "acc_b", "name": "Account B", "keys": ["key-b-one"], "projects": [{"id": "p3", "name": "B's"}]}
  ]
})";

seed_data seed_from(const temp_dir& dir, std::string_view text) {
    const auto file = dir.path() / "seed.json";
    write_file(file, std::string(text));
    return load_seed_file(file);
}

// Expects load_seed_file to refuse `text`, with a message naming the file and `member`.
void check_refused(std::string_view text, const std::string& member) {
    temp_dir dir;
    const auto file = dir.path() / "bad_seed.json";
    write_file(file, std::string(text));
    try {
        load_seed_file(file);
        BOOST_ERROR("accepted a seed that should name " << member << ": " << text);
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        BOOST_TEST_INFO("message: " << what);
        BOOST_TEST(what.find(file.string()) != std::string::npos);
        BOOST_TEST_INFO("message: " << what);
        BOOST_TEST(what.find(member) != std::string::npos, "should name " << member);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(jobs)

BOOST_AUTO_TEST_CASE(create_then_find_returns_every_field) {
    temp_dir dir;
    sqlite_store s(options_for(dir.db()));
    job_record j = make_job("acc_a");
    j.type = job_type::pdf;
    j.source_id = "c0485a29-e456-4218-90ac-80d50b4220ac";
    j.session_id = "sess-42";
    j.version = 2.5;
    // Non-ASCII, escapes, CR/LF and odd spacing must come back byte for byte.
    j.input =
        "{\"type\": \"pdf\",\r\n  \"text\":\"caf\xC3\xA9 \xF0\x9F\x8E\xAC \\\"q\\\" "
        "\\u0000\\n\"\t,\"n\":1.50}";
    j.created_ms = 1'712'345'678'901;
    j.updated_ms = j.created_ms;
    create(s, j);

    const auto found = find(s, "acc_a", j.uuid);
    BOOST_REQUIRE(found);
    BOOST_TEST(found->uuid == j.uuid);
    BOOST_TEST(found->account_id == "acc_a");
    BOOST_TEST(found->source_id == j.source_id);
    BOOST_TEST(to_string(found->type) == "pdf");
    BOOST_TEST(to_string(found->status) == "QUEUED");
    BOOST_TEST(found->session_id == "sess-42");
    BOOST_TEST(found->version.value_or(-1) == 2.5);
    BOOST_TEST(found->input == j.input);
    BOOST_TEST(found->input.size() == j.input.size());
    BOOST_TEST(found->created_ms == 1'712'345'678'901);
    BOOST_TEST(found->updated_ms == 1'712'345'678'901);
    BOOST_TEST(!found->output.has_value());
    BOOST_TEST(!found->error.has_value());

    // find_job falls back to QUEUED/video for unreadable columns, so check the stored text too.
    raw_db raw(dir.db());
    const std::string where = " FROM jobs WHERE uuid = '" + j.uuid + "'";
    BOOST_TEST(raw.text("SELECT job_status" + where) == "QUEUED");
    BOOST_TEST(raw.text("SELECT job_type" + where) == "pdf");
    BOOST_TEST(raw.text("SELECT output" + where) == "<null>");
    // Waiting for the broker: its seq is a row of the outbox.
    BOOST_TEST(raw.integer("SELECT count(*) FROM outbox WHERE seq = (SELECT seq" + where + ")") == 1);
}

BOOST_AUTO_TEST_CASE(find_is_isolated_by_account) {
    temp_dir dir;
    sqlite_store s(options_for(dir.db()));
    const job_record j = make_job("acc_a");
    create(s, j);
    const auto found = find(s, "acc_a", j.uuid);
    BOOST_REQUIRE(found);
    BOOST_TEST(!found->version.has_value());  // no version in the request: none stored
    BOOST_TEST(!find(s, "acc_b", j.uuid).has_value());
    BOOST_TEST(!find(s, "", j.uuid).has_value());
}

BOOST_AUTO_TEST_CASE(unknown_uuid_is_not_found) {
    temp_dir dir;
    sqlite_store s(options_for(dir.db()));
    create(s, make_job("acc_a"));
    BOOST_TEST(!find(s, "acc_a", jobsd::model::new_uuid()).has_value());
    BOOST_TEST(!find(s, "acc_a", "not-a-uuid").has_value());
}

BOOST_AUTO_TEST_CASE(idempotency_lookup_keeps_to_the_store_window) {
    temp_dir dir;
    const auto now = jobsd::model::now_ms();
    auto keyed = [&](std::string key, std::int64_t age_ms) {
        job_record j = make_job("acc_a");
        j.idempotency_key = std::move(key);
        j.request_hash = "hash";
        j.created_ms = j.updated_ms = now - age_ms;
        return j;
    };
    const job_record old_job = keyed("old", 2 * 3600 * 1000);
    const job_record recent = keyed("recent", 30 * 60 * 1000);
    auto lookup = [](store& s, std::string account, std::string key) {
        return async_find_by_idempotency_key(s, std::move(account), std::move(key), asio::use_future).get();
    };
    {
        store_options common;
        common.idempotency_window = std::chrono::hours(1);
        sqlite_store s(options_for(dir.db()), common);
        create(s, old_job);
        create(s, recent);
        BOOST_TEST(!lookup(s, "acc_a", "old").has_value());  // two hours old: past the window
        const auto held = lookup(s, "acc_a", "recent");
        BOOST_REQUIRE(held);
        BOOST_TEST(held->uuid == recent.uuid);
        BOOST_TEST(!lookup(s, "acc_b", "recent").has_value());
    }
    // The window is the store's option: with the default (24 hours) the older key holds too.
    sqlite_store wide(options_for(dir.db()));
    const auto held = lookup(wide, "acc_a", "old");
    BOOST_REQUIRE(held);
    BOOST_TEST(held->uuid == old_job.uuid);
}

// The writer waits (up to 5 s) until three writes are queued, so each group of three creates is
// one batch.
std::pair<sqlite_options, store_options> three_per_batch(const temp_dir& dir) {
    auto o = options_for(dir.db());
    o.batch_wait = std::chrono::seconds(5);
    store_options common;
    common.batch_max = 3;
    return {o, common};
}

BOOST_AUTO_TEST_CASE(duplicate_uuid_fails_alone_in_its_batch) {
    temp_dir dir;
    const auto [o, common] = three_per_batch(dir);
    sqlite_store s(o, common);

    const job_record a = make_job("acc_a", R"({"n":"a"})");
    const job_record x = make_job("acc_a", R"({"n":"x first"})");
    job_record x_again = x;
    x_again.input = R"({"n":"x second"})";
    const auto before = s.stats();
    std::vector<std::future<void>> first;
    first.push_back(async_create_job(s, a, asio::use_future));
    first.push_back(async_create_job(s, x, asio::use_future));
    first.push_back(async_create_job(s, x_again, asio::use_future));
    BOOST_TEST(!outcome(first[0]));
    BOOST_TEST(!outcome(first[1]));
    BOOST_TEST(outcome(first[2]) == make_error_code(store_errc::duplicate));
    const auto mid = s.stats();
    BOOST_TEST(mid.transactions - before.transactions == 1u);
    BOOST_TEST(mid.jobs_committed - before.jobs_committed == 2u);

    // A duplicate of an already committed job, between two new ones.
    const job_record b = make_job("acc_a", R"({"n":"b"})");
    const job_record c = make_job("acc_a", R"({"n":"c"})");
    job_record x_third = x;
    x_third.input = R"({"n":"x third"})";
    std::vector<std::future<void>> second;
    second.push_back(async_create_job(s, b, asio::use_future));
    second.push_back(async_create_job(s, x_third, asio::use_future));
    second.push_back(async_create_job(s, c, asio::use_future));
    BOOST_TEST(!outcome(second[0]));
    BOOST_TEST(outcome(second[1]) == make_error_code(store_errc::duplicate));
    BOOST_TEST(!outcome(second[2]));
    const auto after = s.stats();
    BOOST_TEST(after.transactions - mid.transactions == 1u);
    BOOST_TEST(after.jobs_committed - mid.jobs_committed == 2u);

    BOOST_TEST(find(s, "acc_a", a.uuid).has_value());
    BOOST_TEST(find(s, "acc_a", b.uuid).has_value());
    BOOST_TEST(find(s, "acc_a", c.uuid).has_value());
    const auto kept = find(s, "acc_a", x.uuid);
    BOOST_REQUIRE(kept);
    BOOST_TEST(kept->input == R"({"n":"x first"})");
    // The duplicates left nothing behind (no savepoint around a single create): every job row
    // has its outbox entry, and there are no others.
    raw_db raw(dir.db());
    BOOST_TEST(raw.integer("SELECT count(*) FROM jobs") == 4);
    BOOST_TEST(raw.integer("SELECT count(*) FROM outbox JOIN jobs USING (seq)") == 4);
    BOOST_TEST(raw.integer("SELECT count(*) FROM outbox") == 4);
}

// A single create runs without a savepoint of its own (what a savepoint costs is a copy of
// every page it changes). A failure after its row went in, here its outbox entry refused by a
// trigger, must fail the whole transaction: no job is left that the relay would never publish,
// and the create is not answered as a duplicate.
BOOST_AUTO_TEST_CASE(a_create_whose_outbox_entry_fails_leaves_no_job_behind) {
    temp_dir dir;
    const auto [o, common] = three_per_batch(dir);
    sqlite_store s(o, common);
    raw_db raw(dir.db());
    raw.exec(
        "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox WHEN (SELECT input FROM jobs WHERE seq = "
        "NEW.seq) = '{\"n\":\"refused\"}' BEGIN SELECT RAISE(ABORT, 'refused'); END");

    const job_record a = make_job("acc_a", R"({"n":"a"})");
    const job_record refused = make_job("acc_a", R"({"n":"refused"})");
    const job_record b = make_job("acc_a", R"({"n":"b"})");
    std::vector<std::future<void>> batch;
    batch.push_back(async_create_job(s, a, asio::use_future));
    batch.push_back(async_create_job(s, refused, asio::use_future));
    batch.push_back(async_create_job(s, b, asio::use_future));
    const auto refused_outcome = outcome(batch[1]);
    BOOST_TEST(refused_outcome == make_error_code(store_errc::io));
    for (auto* f : {&batch[0], &batch[2]}) {
        const auto ec = outcome(*f);
        BOOST_TEST((!ec || ec == make_error_code(store_errc::io)));
    }
    BOOST_TEST(!find(s, "acc_a", refused.uuid).has_value());
    BOOST_TEST(raw.integer("SELECT count(*) FROM jobs WHERE seq NOT IN (SELECT seq FROM outbox)") == 0);

    // The store goes on: the same jobs, created again once the trigger is gone, are committed.
    raw.exec("DROP TRIGGER refuse_outbox");
    std::vector<std::future<void>> again;
    for (const auto* j : {&a, &refused, &b}) {
        job_record copy = *j;
        copy.uuid = jobsd::model::new_uuid();
        again.push_back(async_create_job(s, copy, asio::use_future));
    }
    for (auto& f : again) BOOST_TEST(!outcome(f));
    BOOST_TEST(raw.integer("SELECT count(*) FROM jobs WHERE seq NOT IN (SELECT seq FROM outbox)") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(group_commit)

// Group commit: everything queued while the writer commits goes into its next transaction. The
// test holds SQLite's write lock while the writer has one job in hand and 1000 (within batch_max,
// 1024) queue behind it, so the outcome (two transactions) does not depend on the machine's speed.
BOOST_AUTO_TEST_CASE(concurrent_creates_share_transactions) {
    temp_dir dir;
    sqlite_store s(options_for(dir.db()));
    constexpr std::size_t n = 1000;
    const auto before = s.stats();
    std::vector<std::future<void>> pending;
    pending.reserve(n + 1);
    {
        jobsd::test::sqlite_write_lock lock(dir.db());
        pending.push_back(async_create_job(s, make_job("acc_a", R"({"first":true})"), asio::use_future));
        BOOST_TEST_REQUIRE(
            jobsd::test::wait_until([&] { return s.stats().write_queue == 0; }, std::chrono::seconds(30)));
        for (std::size_t i = 0; i < n; ++i)
            pending.push_back(async_create_job(s, make_job("acc_a", "{\"i\":" + std::to_string(i) + "}"),
                                               asio::use_future));
        BOOST_TEST(s.stats().write_queue == n);
    }
    std::size_t failed = 0;
    for (auto& f : pending)
        if (outcome(f)) ++failed;
    BOOST_TEST(failed == 0u);
    const auto after = s.stats();
    const auto transactions = after.transactions - before.transactions;
    BOOST_TEST_MESSAGE(n + 1 << " jobs committed in " << transactions << " transactions");
    BOOST_TEST(after.jobs_committed - before.jobs_committed == n + 1);
    BOOST_TEST(transactions == 2u, "the writer's first job, then the 1000 queued behind it");
    BOOST_TEST(after.write_queue == 0u);
    BOOST_TEST(raw_db(dir.db()).integer("SELECT count(*) FROM jobs") == static_cast<std::int64_t>(n + 1));
}

BOOST_AUTO_TEST_CASE(batch_max_bounds_jobs_per_transaction) {
    temp_dir dir;
    auto o = options_for(dir.db());
    store_options common;
    common.batch_max = 1;
    o.synchronous_full = false;  // 1 fsync per job is what this test provokes; keep it quick
    sqlite_store s(o, common);
    constexpr std::size_t n = 300;
    const auto before = s.stats();
    std::vector<std::future<void>> pending;
    for (std::size_t i = 0; i < n; ++i)
        pending.push_back(async_create_job(s, make_job("acc_a"), asio::use_future));
    for (auto& f : pending) BOOST_TEST(!outcome(f));
    const auto after = s.stats();
    BOOST_TEST(after.jobs_committed - before.jobs_committed == n);
    BOOST_TEST(after.transactions - before.transactions == n);
}

BOOST_AUTO_TEST_CASE(full_write_queue_answers_busy) {
    temp_dir dir;
    auto o = options_for(dir.db());
    store_options common;
    // The writer leaves the first write queued while it lingers for a second one, so with a
    // queue bound of 1 the second write deterministically finds the queue full.
    common.write_queue_max = 1;
    common.batch_max = 2;
    o.batch_wait = std::chrono::seconds(1);
    sqlite_store s(o, common);
    const job_record first = make_job("acc_a");
    auto f1 = async_create_job(s, first, asio::use_future);
    auto f2 = async_create_job(s, make_job("acc_a"), asio::use_future);
    BOOST_TEST(s.stats().write_queue == 1u);
    // The refusal is immediate, not after the writer's linger.
    BOOST_REQUIRE(f2.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    BOOST_TEST(outcome(f2) == make_error_code(store_errc::busy));
    BOOST_TEST(!outcome(f1));
    BOOST_TEST(find(s, "acc_a", first.uuid).has_value());
    BOOST_TEST(s.stats().jobs_committed == 1u);
}

BOOST_AUTO_TEST_CASE(stats_tell_when_the_write_queue_is_full) {
    temp_dir dir;
    {
        sqlite_store s(options_for(dir.db()));
        BOOST_TEST(s.stats().write_queue_max == 65536u);  // store_options' default
    }
    auto o = options_for(dir.db());
    store_options common;
    common.write_queue_max = 1;
    common.batch_max = 2;
    o.batch_wait = std::chrono::seconds(2);  // the writer lingers with the first write queued
    sqlite_store s(o, common);
    const auto idle = s.stats();
    BOOST_TEST(idle.write_queue_max == 1u);
    BOOST_TEST(idle.write_queue < idle.write_queue_max);
    auto f = async_create_job(s, make_job("acc_a"), asio::use_future);
    // What readiness reports as "store write queue is full", with nothing but the stats.
    const auto full = s.stats();
    BOOST_TEST(full.write_queue >= full.write_queue_max);
    BOOST_TEST(!outcome(f));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(durability)

BOOST_AUTO_TEST_CASE(jobs_survive_reopening) {
    temp_dir dir;
    std::vector<job_record> jobs;
    {
        sqlite_store s(options_for(dir.db()));
        for (int i = 0; i < 5; ++i) {
            jobs.push_back(make_job(i % 2 ? "acc_a" : "acc_b", "{\"i\":" + std::to_string(i) + "}"));
            create(s, jobs.back());
        }
    }
    sqlite_store reopened(options_for(dir.db()));
    for (const auto& j : jobs) {
        const auto found = find(reopened, j.account_id, j.uuid);
        BOOST_REQUIRE(found);
        BOOST_TEST(found->input == j.input);
        BOOST_TEST(found->created_ms == j.created_ms);
    }
    // The uuid is still unique across the reopening.
    auto again = async_create_job(reopened, jobs.front(), asio::use_future);
    BOOST_TEST(outcome(again) == make_error_code(store_errc::duplicate));
}

BOOST_AUTO_TEST_CASE(destruction_commits_queued_writes) {
    temp_dir dir;
    const job_record j = make_job("acc_a");
    std::future<void> f;
    const auto start = std::chrono::steady_clock::now();
    {
        auto o = options_for(dir.db());
        store_options common;
        common.batch_max = 2;
        o.batch_wait = std::chrono::seconds(20);  // only closing can end this linger early
        sqlite_store s(o, common);
        f = async_create_job(s, j, asio::use_future);
    }
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(10)));
    BOOST_REQUIRE(f.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    BOOST_TEST(!outcome(f));
    sqlite_store reopened(options_for(dir.db()));
    BOOST_TEST(find(reopened, "acc_a", j.uuid).has_value());
}

BOOST_AUTO_TEST_CASE(newer_schema_version_is_refused) {
    temp_dir dir;
    { raw_db(dir.db()).exec("PRAGMA user_version = 99"); }
    BOOST_CHECK_EXCEPTION(sqlite_store(options_for(dir.db())), std::runtime_error,
                          [](const std::runtime_error& e) {
                              BOOST_TEST_MESSAGE("refused with: " << e.what());
                              return std::string(e.what()).find("99") != std::string::npos;
                          });
    // Refusing must not touch the file's schema.
    raw_db raw(dir.db());
    BOOST_TEST(raw.integer("PRAGMA user_version") == 99);
    BOOST_TEST(raw.text("SELECT name FROM sqlite_master WHERE name = 'jobs'") == "<none>");
}

BOOST_AUTO_TEST_CASE(migration_sets_a_version_that_reopening_keeps) {
    temp_dir dir;
    { sqlite_store s(options_for(dir.db())); }
    const auto version = raw_db(dir.db()).integer("PRAGMA user_version");
    BOOST_TEST(version > 0);
    { sqlite_store s(options_for(dir.db())); }
    BOOST_TEST(raw_db(dir.db()).integer("PRAGMA user_version") == version);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seed_and_catalog)

BOOST_AUTO_TEST_CASE(seed_is_loaded_into_the_catalog) {
    temp_dir dir;
    sqlite_store s(options_for(dir.db()));
    s.apply_seed(seed_from(dir, seed_v1));
    const auto cat = catalog_of(s);
    BOOST_REQUIRE(cat);

    BOOST_TEST(cat->account_by_key_hash.size() == 3u);
    BOOST_TEST(cat->account_by_key_hash.at(jobsd::model::hash_api_key("key-a-one")) == "acc_a");
    BOOST_TEST(cat->account_by_key_hash.at(jobsd::model::hash_api_key("key-a-two")) == "acc_a");
    BOOST_TEST(cat->account_by_key_hash.at(jobsd::model::hash_api_key("key-b-one")) == "acc_b");
    BOOST_TEST(!cat->account_by_key_hash.contains("key-a-one"));  // plain keys are never stored

    // Operator keys are their own set: never a customer key, and a customer key never one.
    BOOST_TEST(cat->operator_key_hashes.size() == 1u);
    BOOST_TEST(cat->operator_key_hashes.contains(jobsd::model::hash_api_key("op-key-one")));
    BOOST_TEST(!cat->account_by_key_hash.contains(jobsd::model::hash_api_key("op-key-one")));
    BOOST_TEST(!cat->operator_key_hashes.contains(jobsd::model::hash_api_key("key-a-one")));

    BOOST_TEST(cat->projects.size() == 3u);
    const auto* p1 = cat->find_project("acc_a", "p1");
    BOOST_REQUIRE(p1);
    BOOST_TEST(p1->name == "Launch");
    BOOST_TEST(p1->type == "video");
    BOOST_TEST(p1->start_ms.value_or(-1) == 1'704'164'645'000);  // 2024-01-02T03:04:05Z
    BOOST_TEST(p1->end_ms.value_or(-1) == 1'735'603'200'000);    // 2024-12-31
    BOOST_TEST(
        p1->mapping_fields ==
        boost::json::parse(R"({"headline": {"label": "Headline", "instructionType": "text"}})").as_object());
    const auto* p2 = cat->find_project("acc_a", "p2");
    BOOST_REQUIRE(p2);
    BOOST_TEST(p2->name == "");
    BOOST_TEST(p2->type == "tts");
    BOOST_TEST(!p2->start_ms.has_value());
    BOOST_TEST(!p2->end_ms.has_value());
    BOOST_TEST(p2->mapping_fields.empty());
    BOOST_TEST(cat->find_project("acc_b", "p3") != nullptr);
    BOOST_TEST(cat->find_project("acc_b", "p1") == nullptr);

    BOOST_TEST(cat->image_prompts.size() == 1u);
    const auto* ip = cat->find_image_prompt("acc_a", "ip1");
    BOOST_REQUIRE(ip);
    BOOST_TEST(ip->name == "Hero");
    BOOST_TEST(ip->prompt == "A studio photo, soft light");
    BOOST_TEST(cat->find_image_prompt("acc_b", "ip1") == nullptr);
}

BOOST_AUTO_TEST_CASE(applying_a_seed_again_is_idempotent) {
    temp_dir dir;
    sqlite_store s(options_for(dir.db()));
    const auto v1 = seed_from(dir, seed_v1);
    s.apply_seed(v1);
    s.apply_seed(v1);
    {
        const auto cat = catalog_of(s);
        BOOST_TEST(cat->account_by_key_hash.size() == 3u);
        BOOST_TEST(cat->projects.size() == 3u);
        BOOST_TEST(cat->image_prompts.size() == 1u);
    }
    s.apply_seed(seed_from(dir, seed_v2));
    const auto cat = catalog_of(s);
    BOOST_TEST(cat->account_by_key_hash.size() == 3u);
    BOOST_TEST(cat->projects.size() == 3u);
    BOOST_TEST(cat->image_prompts.size() == 1u);
    BOOST_TEST(cat->projects.at("p1").name == "Launch v2");
    BOOST_TEST(cat->image_prompts.at("ip1").name == "Hero v2");
    // seed_v2 drops p2's dates and fields; the update follows it.
    BOOST_TEST(!cat->projects.at("p2").start_ms.has_value());

    raw_db raw(dir.db());
    BOOST_TEST(raw.integer("SELECT count(*) FROM accounts") == 2);
    BOOST_TEST(raw.integer("SELECT count(*) FROM api_keys") == 3);
    BOOST_TEST(raw.text("SELECT name FROM accounts WHERE id = 'acc_a'") == "Account A renamed");
}

BOOST_AUTO_TEST_CASE(catalog_of_an_empty_store_is_empty) {
    temp_dir dir;
    sqlite_store s(options_for(dir.db()));
    const auto cat = catalog_of(s);
    BOOST_REQUIRE(cat);
    BOOST_TEST(cat->account_by_key_hash.empty());
    BOOST_TEST(cat->projects.empty());
    BOOST_TEST(cat->image_prompts.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(seed_file)

BOOST_AUTO_TEST_CASE(reads_a_valid_file) {
    temp_dir dir;
    const auto seed = seed_from(dir, seed_v1);
    BOOST_REQUIRE(seed.accounts.size() == 2u);
    BOOST_TEST(seed.accounts[0].id == "acc_a");
    BOOST_TEST(seed.accounts[0].name == "Account A");
    BOOST_TEST(seed.accounts[0].keys == (std::vector<std::string>{"key-a-one", "key-a-two"}));
    BOOST_REQUIRE(seed.projects.size() == 3u);
    BOOST_TEST(seed.projects[2].id == "p3");
    BOOST_TEST(seed.projects[2].account_id == "acc_b");
    BOOST_REQUIRE(seed.image_prompts.size() == 1u);
    BOOST_TEST(seed.image_prompts[0].account_id == "acc_a");
}

BOOST_AUTO_TEST_CASE(missing_account_id) {
    check_refused(R"({"accounts": [{"id": "a"}, {"name": "no id"}]})", "accounts[1].id");
}

BOOST_AUTO_TEST_CASE(missing_project_id) {
    check_refused(R"({"accounts": [{"id": "a", "projects": [{"id": "p0"}, {"name": "no id"}]}]})",
                  "accounts[0].projects[1].id");
}

BOOST_AUTO_TEST_CASE(missing_image_prompt_id) {
    check_refused(R"({"accounts": [{"id": "a", "image_prompts": [{"prompt": "x"}]}]})",
                  "accounts[0].image_prompts[0].id");
}

BOOST_AUTO_TEST_CASE(date_that_is_not_iso8601) {
    check_refused(
        R"({"accounts": [{"id": "a", "projects": [{"id": "p0"}, {"id": "p1", "start_date": "01/02/2024"}]}]})",
        "accounts[0].projects[1].start_date");
    check_refused(R"({"accounts": [{"id": "a", "projects": [{"id": "p0", "end_date": "2024-13-01"}]}]})",
                  "accounts[0].projects[0].end_date");
}

BOOST_AUTO_TEST_CASE(keys_that_are_not_strings) {
    check_refused(R"({"accounts": [{"id": "a", "keys": ["fine", 42]}]})", "accounts[0].keys[1]");
    check_refused(R"({"accounts": [{"id": "a", "keys": [""]}]})", "accounts[0].keys[0]");
    check_refused(R"({"accounts": [{"id": "a", "keys": "one"}]})", "accounts[0].keys");
}

BOOST_AUTO_TEST_CASE(invalid_json_and_missing_file) {
    check_refused(R"({"accounts": [)", "(document)");
    temp_dir dir;
    const auto missing = dir.path() / "missing.json";
    BOOST_CHECK_EXCEPTION(load_seed_file(missing), std::runtime_error, [&](const std::runtime_error& e) {
        return std::string(e.what()).find(missing.string()) != std::string::npos;
    });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(factory)

BOOST_AUTO_TEST_CASE(unknown_scheme_is_invalid_argument) {
    store_config o;
    o.url = "mysql://x";
    BOOST_CHECK_THROW(open_store(o), std::invalid_argument);
    o.url = "sqlite:";
    BOOST_CHECK_THROW(open_store(o), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(sqlite_url_opens_the_named_file) {
    temp_dir dir;
    const auto file = dir.path() / "sub" / "factory.db";  // a missing directory is created
    store_config o;
    o.url = "sqlite:" + file.string();
    const job_record j = make_job("acc_a");
    {
        auto s = open_store(o);
        BOOST_REQUIRE(s);
        create(*s, j);
    }
    BOOST_TEST(fs::exists(file));
    BOOST_TEST(raw_db(file).text("SELECT account_id FROM jobs WHERE uuid = '" + j.uuid + "'") == "acc_a");
}

BOOST_AUTO_TEST_SUITE_END()

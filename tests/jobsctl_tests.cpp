// Black-box tests of the jobsctl binary: every command against a temp SQLite file, what it
// wrote read back through jobsctl and through a running jobsd (keys, revocation, projects, jobs).
#define BOOST_TEST_MODULE jobsctl
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "tests/support/amqp_client.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsctl_runner.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/test_broker.hpp"
#include "tests/support/wait.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using jobsd::test::http_client;
using jobsd::test::temp_dir;
using jobsd::test::within;
using jobsd::test::seed::key_a;
using jobsd::test::seed::project_b1;

namespace {

using run_result = jobsd::test::jobsctl_result;

void write_file(const std::filesystem::path& p, std::string_view text) {
    std::ofstream(p, std::ios::binary) << text;
}

// One jobsctl run against the store in `dir` (or none), with the exit code and its output.
run_result jobsctl(const temp_dir& dir, std::vector<std::string> args, bool with_store = true) {
    return jobsd::test::run_jobsctl(dir.path(),
                                    with_store ? "sqlite:" + (dir.path() / "jobs.db").string() : "", args);
}

std::string show(const run_result& r) {
    return jobsd::test::describe(r);
}

// A run that must succeed; returns its stdout.
std::string ok(const temp_dir& dir, std::vector<std::string> args) {
    std::string line;
    for (const auto& a : args) line += " " + a;
    const auto r = jobsctl(dir, std::move(args));
    BOOST_REQUIRE_MESSAGE(r.code == 0, "jobsctl" << line << " failed: " << show(r));
    return r.out;
}

json::value ok_json(const temp_dir& dir, std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    const auto out = ok(dir, args);
    boost::system::error_code ec;
    auto v = json::parse(out, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "not JSON: " << out);
    return v;
}

// A run that must fail with `code`, saying `message` on stderr and nothing on stdout.
void refused(const temp_dir& dir, std::vector<std::string> args, int code, std::string_view message) {
    std::string line;
    for (const auto& a : args) line += " " + a;
    const auto r = jobsctl(dir, std::move(args));
    BOOST_TEST_CONTEXT("jobsctl" << line << ": " << show(r)) {
        BOOST_TEST(r.code == code);
        BOOST_TEST(r.err.find(message) != std::string::npos);
        BOOST_TEST(r.out.empty());
    }
}

struct store_fixture {
    temp_dir dir{"jobsctl-test"};
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(usage, store_fixture)

BOOST_AUTO_TEST_CASE(help_everywhere_and_no_store_touched) {
    auto r = jobsctl(dir, {"--help"});
    BOOST_TEST(r.code == 0);
    for (auto c : {"account create", "key revoke", "operator-key create", "project put", "image-prompt list",
                   "job show", "job unpublished", "job requeue-dead"})
        BOOST_TEST_CONTEXT(c) BOOST_TEST(r.out.find(c) != std::string::npos);
    r = jobsctl(dir, {"key", "--help"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out.find("key create") != std::string::npos);
    BOOST_TEST(r.out.find("project put") == std::string::npos);
    const std::vector<std::vector<std::string>> commands = {
        {"account", "create"},    {"account", "list"},        {"key", "create"},
        {"key", "list"},          {"key", "revoke"},          {"operator-key", "create"},
        {"operator-key", "list"}, {"operator-key", "revoke"}, {"project", "put"},
        {"project", "list"},      {"image-prompt", "put"},    {"image-prompt", "list"},
        {"job", "show"},          {"job", "unpublished"},     {"job", "requeue-dead"}};
    for (auto cmd : commands) {
        cmd.push_back("--help");
        r = jobsctl(dir, cmd);
        BOOST_TEST_CONTEXT(cmd[0] << " " << cmd[1]) {
            BOOST_TEST(r.code == 0);
            BOOST_TEST(r.out.find("usage: jobsctl " + cmd[0] + " " + cmd[1]) == 0u);
        }
    }
    r = jobsctl(dir, {"account", "create", "--help"});
    BOOST_TEST(r.out.find("--name N") != std::string::npos);
    // None of that (nor a usage error) opened, let alone created, the store.
    refused(dir, {"account", "create"}, 2, "missing ID");
    BOOST_TEST(!std::filesystem::exists(dir.path() / "jobs.db"));
}

BOOST_AUTO_TEST_CASE(bad_usage_exits_2_with_a_message) {
    refused(dir, {}, 2, "usage: jobsctl");
    refused(dir, {"frobnicate"}, 2, "unknown command \"frobnicate\"");
    refused(dir, {"account"}, 2, "account needs a subcommand");
    refused(dir, {"account", "delete", "x"}, 2, "unknown command \"account delete\"");
    refused(dir, {"account", "create", "a", "b"}, 2, "unexpected argument \"b\"");
    refused(dir, {"account", "create", "a b"}, 2, "must be at most 128 letters");
    refused(dir, {"account", "create", "x", "--name"}, 2, "option --name needs a value");
    refused(dir, {"key", "list", "--bogus"}, 2, "unknown option --bogus");
    refused(dir, {"key", "create"}, 2, "missing ACCOUNT");
    refused(dir, {"project", "put", "acc"}, 2, "missing FILE");
    refused(dir, {"job", "show", "not-a-uuid"}, 2, "is not a job uuid");
    refused(dir, {"job", "unpublished", "--limit", "0"}, 2, "--limit must be a whole number");
    refused(dir, {"job", "unpublished", "--limit", "ten"}, 2, "--limit must be a whole number");
    refused(dir, {"job", "requeue-dead", "hologram"}, 2, "unknown job type \"hologram\"");
    const auto r = jobsctl(dir, {"--store", "mysql://db/jobs", "account", "list"}, false);
    BOOST_TEST(r.code == 2, show(r));
    BOOST_TEST(r.err.find("\"mysql:\" is not supported by jobsctl") != std::string::npos, show(r));
    refused(dir, {"--store"}, 2, "--store needs a value");
}

BOOST_AUTO_TEST_CASE(unknown_references_exit_1_with_a_message) {
    refused(dir, {"key", "create", "nobody"}, 1, "unknown account \"nobody\"");
    refused(dir, {"key", "revoke", "jk_abcdefgh"}, 1, "no key has the prefix \"jk_abcdefgh\"");
    refused(dir, {"operator-key", "revoke", "jo_abcdefgh"}, 1, "no key has the prefix \"jo_abcdefgh\"");
    refused(dir, {"job", "show", jobsd::model::new_uuid()}, 1, "unknown job");
    write_file(dir.path() / "p.json", R"({"name": "P", "type": "tts"})");
    refused(dir, {"project", "put", "nobody", (dir.path() / "p.json").string()}, 1,
            "unknown account \"nobody\"");
    refused(dir, {"image-prompt", "put", "nobody", (dir.path() / "p.json").string()}, 1, "unknown account");
}

BOOST_AUTO_TEST_CASE(bad_files_are_refused_naming_the_problem) {
    ok(dir, {"account", "create", "acc_x"});
    const auto file = dir.path() / "p.json";
    auto put = [&] { return std::vector<std::string>{"project", "put", "acc_x", file.string()}; };
    refused(dir, put(), 1, "cannot be read");
    write_file(file, R"({"name": "P", "type": )");
    refused(dir, put(), 1, "is not valid JSON");
    write_file(file, R"(["not", "an", "object"])");
    refused(dir, put(), 1, "must be an object");
    write_file(file, R"({"name": "P", "start_date": "next tuesday"})");
    refused(dir, put(), 1, "start_date: must be an ISO-8601 date");
    write_file(file, R"({"name": 7})");
    refused(dir, put(), 1, "name: must be a string");
    write_file(file, R"({"name": "P", "mapping_fields": [1]})");
    refused(dir, put(), 1, "mapping_fields: must be an object");
    BOOST_TEST(ok_json(dir, {"project", "list"}).as_array().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(store_round_trips, store_fixture)

BOOST_AUTO_TEST_CASE(accounts) {
    BOOST_TEST(ok(dir, {"account", "list"}) == "(none)\n");
    BOOST_TEST(ok(dir, {"account", "create", "acc_x", "--name", "X Corp"}).find("account acc_x created") ==
               0u);
    ok(dir, {"account", "create", "acc.y-2"});
    refused(dir, {"account", "create", "acc_x"}, 1, "account \"acc_x\" exists already");
    const auto list = ok_json(dir, {"account", "list"}).as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 2u);
    BOOST_TEST(list[0].at("id").as_string() == "acc.y-2");
    BOOST_TEST(list[1].at("id").as_string() == "acc_x");
    BOOST_TEST(list[1].at("name").as_string() == "X Corp");
    const auto table = ok(dir, {"account", "list"});
    BOOST_TEST(table.find("X Corp") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keys_are_printed_once_and_stored_as_hashes) {
    ok(dir, {"account", "create", "acc_x"});
    ok(dir, {"account", "create", "acc_y"});
    const auto r = jobsctl(dir, {"key", "create", "acc_x"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, show(r));
    const std::string key = r.out.substr(0, r.out.find('\n'));
    BOOST_TEST(std::regex_match(key, std::regex("jk_[a-z2-7]{8}_[a-z2-7]{32}")), key);
    BOOST_TEST(r.err.find("shown only this once") != std::string::npos);
    const auto other = ok_json(dir, {"key", "create", "acc_y"});
    const std::string other_prefix(other.at("prefix").as_string());
    BOOST_TEST(std::string(other.at("key").as_string()).starts_with(other_prefix));

    auto keys = ok_json(dir, {"key", "list", "--account", "acc_x"}).as_array();
    BOOST_REQUIRE_EQUAL(keys.size(), 1u);
    BOOST_TEST(keys[0].at("prefix").as_string() == key.substr(0, 11));
    BOOST_TEST(keys[0].at("revoked_at").is_null());
    BOOST_TEST(ok_json(dir, {"key", "list"}).as_array().size() == 2u);
    BOOST_TEST(ok_json(dir, {"key", "list", "--prefix", key.substr(0, 6)}).as_array().size() >= 1u);
    BOOST_TEST(ok_json(dir, {"key", "list", "--prefix", key.substr(0, 11)}).as_array().size() == 1u);
    BOOST_TEST(ok_json(dir, {"key", "list", "--prefix", "zz"}).as_array().empty());
    // The key itself is nowhere in the store's files, only its prefix.
    std::string files;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        if (e.path().filename().string().starts_with("jobs.db")) files += jobsd::test::read_text(e.path());
    BOOST_TEST(files.find(key.substr(12)) == std::string::npos);
    BOOST_TEST(files.find(key.substr(0, 11)) != std::string::npos);

    const auto revoked = ok(dir, {"key", "revoke", key.substr(0, 11)});
    BOOST_TEST(revoked.find("revoked") != std::string::npos, revoked);
    keys = ok_json(dir, {"key", "list", "--account", "acc_x"}).as_array();
    BOOST_TEST(keys[0].at("revoked_at").is_string());
    BOOST_TEST(ok(dir, {"key", "revoke", key.substr(0, 11)}).find("already revoked") != std::string::npos);
    // The other account's key is untouched.
    BOOST_TEST(ok_json(dir, {"key", "list", "--account", "acc_y"}).as_array()[0].at("revoked_at").is_null());
}

BOOST_AUTO_TEST_CASE(operator_keys) {
    const auto made = ok_json(dir, {"operator-key", "create", "--name", "dashboard"});
    const std::string key(made.at("key").as_string());
    BOOST_TEST(std::regex_match(key, std::regex("jo_[a-z2-7]{8}_[a-z2-7]{32}")), key);
    ok(dir, {"operator-key", "create"});
    const std::string prefix = key.substr(0, 11);
    // The list entry with `prefix`, whatever the order of keys made in the same millisecond.
    auto entry = [&] {
        const auto list = ok_json(dir, {"operator-key", "list"}).as_array();
        BOOST_REQUIRE_EQUAL(list.size(), 2u);
        for (const auto& k : list)
            if (k.at("prefix").as_string() == prefix) return k.as_object();
        BOOST_FAIL("operator key " << prefix << " not listed");
        return json::object{};
    };
    BOOST_TEST(entry().at("name").as_string() == "dashboard");
    BOOST_TEST(entry().at("revoked_at").is_null());
    // Customer and operator keys are apart: the customer list does not show it.
    BOOST_TEST(ok_json(dir, {"key", "list"}).as_array().empty());
    refused(dir, {"key", "revoke", prefix}, 1, "no key has the prefix");
    ok(dir, {"operator-key", "revoke", prefix});
    BOOST_TEST(entry().at("revoked_at").is_string());
    const auto all = ok_json(dir, {"operator-key", "list"});
    for (const auto& k : all.as_array())
        if (k.at("prefix").as_string() != prefix) BOOST_TEST(k.at("revoked_at").is_null());
}

BOOST_AUTO_TEST_CASE(webhook_endpoints_secrets_and_deliveries) {
    ok(dir, {"account", "create", "acc_x"});
    refused(dir, {"webhook", "add", "nobody", "https://example.com/hook"}, 1, "unknown account \"nobody\"");
    refused(dir, {"webhook", "add", "acc_x", "ftp://example.com/hook"}, 2,
            "url must be an http or https URL");
    refused(dir,
            {"webhook", "add", "acc_x", "https://example.com/hook", "--events", "job.succeeded,job.nope"}, 2,
            "events must list only");
    const auto r = jobsctl(
        dir, {"webhook", "add", "acc_x", "https://example.com/hook", "--events", "job.started,job.failed"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, show(r));
    std::istringstream words(r.out);
    std::string id, secret;
    words >> id >> secret;
    BOOST_TEST(std::regex_match(id, std::regex("ep_[0-9a-f]{24}")), id);
    BOOST_TEST(std::regex_match(secret, std::regex("whsec_[A-Za-z0-9+/]{32}")), secret);
    BOOST_TEST(r.err.find("shown only this once") != std::string::npos);

    auto list = ok_json(dir, {"webhook", "list", "--account", "acc_x"}).as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 1u);
    BOOST_TEST(list[0].at("id").as_string() == id);
    BOOST_TEST(json::serialize(list[0].at("events")) == R"(["job.started","job.failed"])");
    BOOST_TEST(ok(dir, {"webhook", "list"}).find("job.started,job.failed") != std::string::npos);
    BOOST_TEST(list[0].at("enabled").as_bool());
    BOOST_TEST(ok(dir, {"webhook", "list"}).find(secret) == std::string::npos);  // never listed
    BOOST_TEST(ok_json(dir, {"webhook", "list", "--account", "acc_y"}).as_array().empty());

    const auto rotated = ok_json(dir, {"webhook", "rotate-secret", id, "--overlap-hours", "2"});
    const std::string fresh(rotated.at("secret").as_string());
    BOOST_TEST(fresh.starts_with("whsec_"));
    BOOST_TEST(fresh != secret);
    refused(dir, {"webhook", "rotate-secret", "default"}, 2, "give --account");
    BOOST_TEST(ok(dir, {"webhook", "rotate-secret", "default", "--account", "acc_x"}).starts_with("whsec_"));
    refused(dir, {"webhook", "rotate-secret", "ep_000000000000000000000000"}, 1, "unknown webhook endpoint");

    BOOST_TEST(ok_json(dir, {"webhook", "deliveries", id}).as_array().empty());
    BOOST_TEST(ok(dir, {"webhook", "deliveries", id}) == "(none)\n");
    refused(dir, {"webhook", "deliveries", "ep_000000000000000000000000"}, 1, "unknown webhook endpoint");

    BOOST_TEST(ok(dir, {"webhook", "remove", id}).empty());
    BOOST_TEST(ok_json(dir, {"webhook", "list"}).as_array().empty());
    refused(dir, {"webhook", "remove", id}, 1, "unknown webhook endpoint");
}

BOOST_AUTO_TEST_CASE(projects_and_image_prompts) {
    ok(dir, {"account", "create", "acc_x"});
    ok(dir, {"account", "create", "acc_y"});
    const auto file = dir.path() / "p.json";
    write_file(file, R"(// comments are allowed, as in the seed file
        {"name": "Launch", "type": "video", "start_date": "2025-01-01", "end_date": null,
         "mapping_fields": {"title": {"label": "Title", "instructionType": "text"}}})");
    const auto made = ok_json(dir, {"project", "put", "acc_x", file.string()});
    const std::string id(made.at("id").as_string());
    BOOST_TEST(jobsd::model::is_uuid(id));
    auto list = ok_json(dir, {"project", "list", "--account", "acc_x"}).as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 1u);
    BOOST_TEST(list[0].at("id").as_string() == id);
    BOOST_TEST(list[0].at("type").as_string() == "video");
    BOOST_TEST(list[0].at("start_date").as_string() == "2025-01-01T00:00:00.000Z");
    BOOST_TEST(list[0].at("end_date").is_null());
    BOOST_TEST(list[0].at("mapping_fields").at("title").at("label").as_string() == "Title");
    BOOST_TEST(!list[0].at("strict_values").as_bool());

    // Same id again: an update, not a second project.
    write_file(file,
               R"({"id": ")" + id + R"(", "name": "Launch v2", "type": "video", "strict_values": true})");
    ok(dir, {"project", "put", "acc_x", file.string()});
    list = ok_json(dir, {"project", "list"}).as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 1u);
    BOOST_TEST(list[0].at("name").as_string() == "Launch v2");
    BOOST_TEST(list[0].at("mapping_fields").as_object().empty());
    BOOST_TEST(list[0].at("strict_values").as_bool());
    // Another account cannot take it over.
    refused(dir, {"project", "put", "acc_y", file.string()}, 1, "belongs to another account");
    BOOST_TEST(ok_json(dir, {"project", "list", "--account", "acc_y"}).as_array().empty());

    write_file(file, R"({"name": "Hero", "prompt": "A product on marble"})");
    const auto prompt = ok_json(dir, {"image-prompt", "put", "acc_y", file.string()});
    const auto prompts = ok_json(dir, {"image-prompt", "list", "--account", "acc_y"}).as_array();
    BOOST_REQUIRE_EQUAL(prompts.size(), 1u);
    BOOST_TEST(prompts[0].at("id") == prompt.at("id"));
    BOOST_TEST(prompts[0].at("prompt").as_string() == "A product on marble");
    BOOST_TEST(ok_json(dir, {"image-prompt", "list", "--account", "acc_x"}).as_array().empty());
}

BOOST_AUTO_TEST_CASE(requeue_dead_touches_only_dead_lettered_jobs_of_the_type) {
    ok(dir, {"account", "list"});  // creates and migrates the store
    const std::string dead = jobsd::model::new_uuid(), by_worker = jobsd::model::new_uuid(),
                      other_type = jobsd::model::new_uuid(), running = jobsd::model::new_uuid();
    {
        sqlite3* db = nullptr;
        BOOST_REQUIRE(sqlite3_open((dir.path() / "jobs.db").c_str(), &db) == SQLITE_OK);
        const std::string sql =
            "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, input, progress, output, "
            "error,"
            " created_ms, updated_ms, expires_in_ms, expires_at_ms, cancel_requested_ms) VALUES"
            " ('" +
            dead +
            "', 'a', 'p', 'video', 'FAILED', '{}', 40, NULL,"
            "  'dead-lettered: delivery limit reached (no worker finished it)', 1, 2, 60000, 60001, 5),"
            " ('" +
            by_worker +
            "', 'a', 'p', 'video', 'FAILED', '{}', NULL, NULL, 'renderer crashed', 1, 2, NULL, NULL, NULL),"
            " ('" +
            other_type +
            "', 'a', 'p', 'tts', 'FAILED', '{}', NULL, NULL, 'dead-lettered: rejected', 1, 2, NULL, NULL,"
            " NULL),"
            " ('" +
            running + "', 'a', 'p', 'video', 'IN_PROGRESS', '{}', 10, NULL, NULL, 1, 2, NULL, NULL, NULL)";
        char* err = nullptr;
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
        const std::string problem = err ? err : "";
        sqlite3_free(err);
        sqlite3_close(db);
        BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, problem);
    }
    BOOST_TEST(ok_json(dir, {"job", "unpublished"}).as_array().empty());
    const auto requeued = ok_json(dir, {"job", "requeue-dead", "video"});
    BOOST_REQUIRE_EQUAL(requeued.at("requeued").as_array().size(), 1u);
    BOOST_TEST(requeued.at("requeued").as_array()[0].as_string() == dead);

    const auto job = ok_json(dir, {"job", "show", dead});
    BOOST_TEST(job.at("job_status").as_string() == "QUEUED");
    BOOST_TEST(job.at("published").as_bool() == false);
    BOOST_TEST(job.at("error").is_null());
    BOOST_TEST(job.at("progress").is_null());
    BOOST_TEST(job.at("created_at") == ok_json(dir, {"job", "show", by_worker}).at("created_at"));
    {
        // As after a retry: its time to live again from now (its deadline had long passed), and
        // the cancel asked of an earlier attempt is not the new attempt's.
        sqlite3* db = nullptr;
        BOOST_REQUIRE(sqlite3_open((dir.path() / "jobs.db").c_str(), &db) == SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        const std::string sql =
            "SELECT expires_at_ms, cancel_requested_ms IS NULL FROM jobs WHERE uuid = '" + dead + "'";
        BOOST_REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        BOOST_REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        const auto expires_at = sqlite3_column_int64(st, 0);
        const bool cancel_cleared = sqlite3_column_int(st, 1) == 1;
        sqlite3_finalize(st);
        sqlite3_close(db);
        BOOST_TEST(expires_at >= jobsd::model::now_ms() + 50'000);
        BOOST_TEST(cancel_cleared);
    }
    // Back in the outbox, where a running jobsd's relay finds it.
    const auto outbox = ok_json(dir, {"job", "unpublished"});
    BOOST_REQUIRE_EQUAL(outbox.as_array().size(), 1u);
    BOOST_TEST(outbox.as_array()[0].at("uuid").as_string() == dead);
    // The others are as they were.
    BOOST_TEST(ok_json(dir, {"job", "show", by_worker}).at("job_status").as_string() == "FAILED");
    BOOST_TEST(ok_json(dir, {"job", "show", other_type}).at("job_status").as_string() == "FAILED");
    BOOST_TEST(ok_json(dir, {"job", "show", running}).at("job_status").as_string() == "IN_PROGRESS");
    BOOST_TEST(ok(dir, {"job", "requeue-dead", "video"}).empty());
    BOOST_TEST(
        ok_json(dir, {"job", "requeue-dead", "tts", "--limit", "5"}).at("requeued").as_array().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- against a running jobsd on the same file ------------------------------------------------

BOOST_AUTO_TEST_SUITE(with_jobsd)

// A key made with jobsctl authenticates at the next catalog refresh; a revoked one stops. The
// catalog is read from one snapshot, so once a change made after the revocation is visible (a
// project put after it), the revocation must be too: that is asserted without any slack, and the
// time it took (the promise is one refresh, 1 s) is only reported.
BOOST_AUTO_TEST_CASE(created_key_authenticates_and_revocation_reaches_jobsd_with_the_next_refresh) {
    temp_dir dir("jobsctl-jobsd");
    auto jobsd = jobsd::test::start_test_jobsd(dir);
    http_client client(jobsd->host(), jobsd->port());
    ok(dir, {"account", "create", "acc_ctl"});
    const std::string key = ok(dir, {"key", "create", "acc_ctl"}).substr(0, 44);
    auto status = [&] { return client.get("/api/provider/projects/active", key).status; };
    const auto accepted = within(30s, [&] { return status() == 200; });
    BOOST_REQUIRE_MESSAGE(accepted, "the new key was not accepted within 30 s: " << status());
    BOOST_TEST_MESSAGE("new key accepted after " << accepted->count() << " ms");

    ok(dir, {"key", "revoke", key.substr(0, 11)});
    write_file(dir.path() / "p.json", R"({"name": "After the revocation", "type": "tts"})");
    const std::string later(
        ok_json(dir, {"project", "put", "acc_a", (dir.path() / "p.json").string()}).at("id").as_string());
    const auto refreshed = within(30s, [&] {
        return client.get("/api/provider/projects/" + later + "/mapping-fields", key_a).status == 200;
    });
    BOOST_REQUIRE_MESSAGE(refreshed, "the catalog was not refreshed within 30 s");
    BOOST_TEST(status() == 401u,
               "the catalog has a project put after the revocation, and the key still works");
    BOOST_TEST_MESSAGE("revocation in effect after " << refreshed->count() << " ms");
    // Another key of the seed is unaffected.
    BOOST_TEST(client.get("/api/provider/projects/active", key_a).status == 200u);
}

// A stream opened with a key outlives no revocation: it ends with `event: revoked` at the next
// catalog refresh, while a stream of another key goes on.
BOOST_AUTO_TEST_CASE(a_revoked_key_ends_its_event_streams) {
    temp_dir dir("jobsctl-jobsd");
    auto jobsd = jobsd::test::start_test_jobsd(dir);
    http_client client(jobsd->host(), jobsd->port());
    ok(dir, {"account", "create", "acc_ctl"});
    const std::string key = ok(dir, {"key", "create", "acc_ctl"}).substr(0, 44);
    BOOST_REQUIRE(
        within(30s, [&] { return client.get("/api/provider/projects/active", key).status == 200; }));
    jobsd::test::sse_client revoked(jobsd->host(), jobsd->port(), key, "s1");
    jobsd::test::sse_client other(jobsd->host(), jobsd->port(), std::string(key_a), "s1");
    std::this_thread::sleep_for(1500ms);  // a refresh or more with the key still valid: no end
    BOOST_TEST(revoked.notices().empty());

    ok(dir, {"key", "revoke", key.substr(0, 11)});
    BOOST_TEST_REQUIRE(revoked.wait_ended(30s));
    BOOST_TEST((revoked.notices() == std::vector<std::string>{"revoked"}));
    BOOST_TEST(!other.wait_ended(1500ms));
    BOOST_TEST(other.notices().empty());
}

BOOST_AUTO_TEST_CASE(put_project_resolves_and_jobs_are_visible) {
    temp_dir dir("jobsctl-jobsd");
    auto jobsd = jobsd::test::start_test_jobsd(dir);
    http_client client(jobsd->host(), jobsd->port());
    const auto file = dir.path() / "p.json";
    write_file(file, R"({"name": "Shop voice", "type": "tts",
        "mapping_fields": {"script": {"label": "Script", "instructionType": "text"}}})");
    const std::string project(ok_json(dir, {"project", "put", "acc_a", file.string()}).at("id").as_string());

    const std::string fields_path = "/api/provider/projects/" + project + "/mapping-fields";
    BOOST_REQUIRE_MESSAGE(within(5s, [&] { return client.get(fields_path, key_a).status == 200; }),
                          "the project did not appear within 5 s");
    const auto fields = client.get(fields_path, key_a).json();
    BOOST_TEST(fields.at("data").at("projectName").as_string() == "Shop voice");
    BOOST_TEST(fields.at("data").at("fields").at("script").at("label").as_string() == "Script");
    BOOST_TEST(client.get(fields_path, "key-b-9e4a2f6c1d7b3e8a").status == 404u);  // not B's

    const auto created =
        client.post("/jobs/v2", key_a,
                    json::serialize(json::object{{"job_type", "tts"},
                                                 {"template_id", project},
                                                 {"session_id", "s-ctl"},
                                                 {"version", 2},
                                                 {"values", json::object{{"script", "Hello"}}}}));
    BOOST_REQUIRE_MESSAGE(created.status == 201u, created.status << " " << created.body);
    const std::string uuid(created.json().at("job").at("uuid").as_string());

    const auto job = ok_json(dir, {"job", "show", uuid});
    BOOST_TEST(job.at("uuid").as_string() == uuid);
    BOOST_TEST(job.at("account_id").as_string() == "acc_a");
    BOOST_TEST(job.at("source_id").as_string() == project);
    BOOST_TEST(job.at("job_type").as_string() == "tts");
    BOOST_TEST(job.at("job_status").as_string() == "QUEUED");
    BOOST_TEST(job.at("session_id").as_string() == "s-ctl");
    BOOST_TEST(job.at("version").is_int64());  // 2, not 2E0
    BOOST_TEST(json::serialize(job.at("version")) == "2");
    BOOST_TEST(job.at("input").at("values").at("script").as_string() == "Hello");
    BOOST_TEST(job.at("published").as_bool() == false);
    BOOST_TEST(job.at("error").is_null());
    // The test config has publishing off: the job waits in the outbox.
    const auto unpublished = ok_json(dir, {"job", "unpublished"}).as_array();
    BOOST_REQUIRE_EQUAL(unpublished.size(), 1u);
    BOOST_TEST(unpublished[0].at("uuid").as_string() == uuid);
    BOOST_TEST(ok(dir, {"job", "unpublished"}).find(uuid) != std::string::npos);

    // An image prompt put here resolves an ai_image_generation job.
    write_file(file, R"({"name": "Desk", "prompt": "A product on a desk"})");
    const std::string prompt(
        ok_json(dir, {"image-prompt", "put", "acc_a", file.string()}).at("id").as_string());
    const std::string body = json::serialize(json::object{{"job_type", "ai_image_generation"},
                                                          {"project_id", prompt},
                                                          {"session_id", "s-ctl"},
                                                          {"values", json::object{{"product", "Lamp"}}}});
    BOOST_TEST(within(5s, [&] { return client.post("/jobs/v2", key_a, body).status == 201u; }).has_value());
    BOOST_TEST(ok_json(dir, {"job", "unpublished", "--limit", "1"}).as_array().size() == 1u);
    BOOST_TEST(ok_json(dir, {"job", "unpublished"}).as_array().size() == 2u);

    // A seeded project of account B stays B's.
    write_file(file, std::string(R"({"id": ")") + std::string(project_b1) + R"(", "name": "taken"})");
    refused(dir, {"project", "put", "acc_a", file.string()}, 1, "belongs to another account");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- requeue-dead against the test broker (ctest runs it as jobsctl_broker_tests) -------------

BOOST_AUTO_TEST_SUITE(broker)

// A job the broker really dead-letters (a consumer gives it back until the quorum queue's delivery
// limit is passed) ends FAILED; requeue-dead sends it round again, and only it, not a job a worker
// failed; the running jobsd publishes it again and its new events apply from QUEUED onwards.
BOOST_AUTO_TEST_CASE(requeue_dead_sends_dead_lettered_jobs_round_again) {
    const jobsd::test::topology_names names("ctl-dead-");
    jobsd::test::topology_cleanup cleanup(names);
    auto broker = jobsd::test::connect_test_broker();
    const std::string type = "pdf", queue = names.queue(type);

    temp_dir dir("jobsctl-broker");
    auto jobsd = jobsd::test::start_test_jobsd(
        dir, jobsd::test::publishing_env(
                 names, {{"JOBSD_AMQP_RELAY_INTERVAL_MS", "300"}, {"JOBSD_AMQP_DELIVERY_LIMIT", "1"}}));
    http_client client(jobsd->host(), jobsd->port());
    // A pdf project for account A, put with jobsctl.
    write_file(dir.path() / "p.json", R"({"name": "Invoices", "type": "pdf"})");
    const std::string project(
        ok_json(dir, {"project", "put", "acc_a", (dir.path() / "p.json").string()}).at("id").as_string());
    auto post = [&] {
        std::optional<std::string> uuid;
        within(30s, [&] {
            const auto res = client.post("/jobs/v2", key_a,
                                         json::serialize(json::object{{"job_type", type},
                                                                      {"template_id", project},
                                                                      {"session_id", "s-dead"},
                                                                      {"values", json::object{}}}));
            if (res.status == 201) uuid = std::string(res.json().at("job").at("uuid").as_string());
            return uuid.has_value();
        });
        BOOST_REQUIRE_MESSAGE(uuid, "POST /jobs/v2 with the new project did not succeed");
        return *uuid;
    };
    auto status_of = [&](const std::string& uuid) {
        return std::string(ok_json(dir, {"job", "show", uuid}).at("job_status").as_string());
    };
    // The message of `uuid` in the job queue, taken (acked) when it arrives.
    auto arrives = [&](const std::string& uuid) {
        return within(30s,
                      [&] {
                          for (const auto& m : broker->drain(queue, 200ms))
                              if (m.message_id == uuid) return true;
                          return false;
                      })
            .has_value();
    };

    // The first job is given back until the broker dead-letters it (delivery limit 1).
    const std::string dead = post();
    int returns = 0;
    const auto dead_lettered = within(60s, [&] {
        if (broker->reject_one(queue, true)) ++returns;
        return status_of(dead) == "FAILED";
    });
    BOOST_REQUIRE_MESSAGE(dead_lettered,
                          "jobsd did not mark the dead-lettered job FAILED after " << returns << " returns");
    BOOST_TEST_MESSAGE("dead-lettered after " << returns << " returns");
    BOOST_TEST(broker->message_count(queue).value_or(1) == 0u);
    BOOST_TEST(std::string(ok_json(dir, {"job", "show", dead}).at("error").as_string())
                   .starts_with("dead-lettered: delivery limit reached"));
    BOOST_TEST(ok_json(dir, {"job", "show", dead}).at("published").as_bool());

    // The second one is taken by a "worker" that reports it FAILED.
    const std::string failed_by_worker = post();
    BOOST_REQUIRE(arrives(failed_by_worker));
    broker->publish(
        names.events_exchange(), type + ".FAILED",
        R"({"uuid":")" + failed_by_worker + R"(","job_status":"FAILED","error":"renderer crashed"})");
    BOOST_REQUIRE_MESSAGE(within(30s, [&] { return status_of(failed_by_worker) == "FAILED"; }),
                          "jobsd did not apply the worker's FAILED event");

    const auto r = jobsctl(dir, {"job", "requeue-dead", type});
    BOOST_REQUIRE_MESSAGE(r.code == 0, show(r));
    BOOST_TEST(r.out == dead + "\n");  // only the dead-lettered one
    BOOST_TEST(r.err.find("1 dead-lettered pdf job(s) requeued") != std::string::npos, r.err);
    auto job = ok_json(dir, {"job", "show", dead});
    BOOST_TEST(job.at("job_status").as_string() == "QUEUED");
    BOOST_TEST(job.at("error").is_null());
    BOOST_TEST(status_of(failed_by_worker) == "FAILED");
    BOOST_TEST(ok_json(dir, {"job", "show", failed_by_worker}).at("error").as_string() == "renderer crashed");

    // The running jobsd's relay publishes it again, and its events apply from QUEUED onwards.
    // Within the relay interval, once the publisher has forgotten the uuid's first confirm (10 s).
    BOOST_REQUIRE_MESSAGE(arrives(dead), "the requeued job was not published again");
    BOOST_TEST(within(30s, [&] {
                   return ok_json(dir, {"job", "show", dead}).at("published").as_bool();
               }).has_value());
    broker->publish(names.events_exchange(), type + ".STARTED",
                    R"({"uuid":")" + dead + R"(","job_status":"STARTED"})");
    broker->publish(
        names.events_exchange(), type + ".SUCCESS",
        R"({"uuid":")" + dead + R"(","job_status":"SUCCESS","output":{"url":"https://x/doc.pdf"}})");
    BOOST_TEST(within(30s, [&] { return status_of(dead) == "SUCCESS"; }).has_value());
    job = ok_json(dir, {"job", "show", dead});
    BOOST_TEST(job.at("output").at("url").as_string() == "https://x/doc.pdf");
    BOOST_TEST(job.at("error").is_null());
    // Nothing is left to requeue.
    const auto again = jobsctl(dir, {"job", "requeue-dead", type});
    BOOST_TEST(again.code == 0);
    BOOST_TEST(again.out.empty());
}

BOOST_AUTO_TEST_SUITE_END()

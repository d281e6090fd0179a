// Black-box tests of the jobsctl binary on PostgreSQL: every command against a fresh schema of
// the test cluster, what it wrote read back through jobsctl, SQL, pg_store and a running jobsd.
#define BOOST_TEST_MODULE jobsctl_pg
#include <boost/test/unit_test.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "store/pg_schema.hpp"
#include "store/pg_store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/jobsctl_runner.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/wait.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using jobsd::test::describe;
using jobsd::test::temp_dir;
using jobsd::test::within;
using jobsd::test::seed::key_a;

namespace {

// jobsctl on a fresh schema, its output files in a temp directory.
struct pg_fixture {
    jobsd::test::pg_test_schema schema;
    temp_dir dir{"jobsctl-pg-test"};

    jobsd::test::jobsctl_result run(const std::vector<std::string>& args) {
        return jobsd::test::run_jobsctl(dir.path(), schema.url(), args);
    }
    // A run that must succeed; returns its stdout.
    std::string ok(const std::vector<std::string>& args) {
        const auto r = run(args);
        BOOST_REQUIRE_MESSAGE(r.code == 0, "jobsctl " << args.front() << " failed: " << describe(r));
        return r.out;
    }
    json::value ok_json(std::vector<std::string> args) {
        args.insert(args.begin(), "--json");
        const auto out = ok(args);
        boost::system::error_code ec;
        auto v = json::parse(out, ec);
        BOOST_REQUIRE_MESSAGE(!ec, "not JSON: " << out);
        return v;
    }
    // A run that must fail with `code`, saying `message` on stderr and nothing on stdout.
    void refused(const std::vector<std::string>& args, int code, std::string_view message) {
        const auto r = run(args);
        BOOST_TEST_CONTEXT("jobsctl " << args.front() << ": " << describe(r)) {
            BOOST_TEST(r.code == code);
            BOOST_TEST(r.err.find(message) != std::string::npos);
            BOOST_TEST(r.out.empty());
        }
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(pg_round_trips, pg_fixture)

BOOST_AUTO_TEST_CASE(accounts) {
    BOOST_TEST(ok({"account", "list"}) == "(none)\n");
    BOOST_TEST(schema.exec("SELECT version FROM jobsd_schema") ==
               std::to_string(jobsd::store::pg_schema_version()));
    ok({"account", "create", "acc_x", "--name", "X Corp"});
    ok({"account", "create", "acc.y-2"});
    refused({"account", "create", "acc_x"}, 1, "account \"acc_x\" exists already");
    const auto list = ok_json({"account", "list"}).as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 2u);
    BOOST_TEST(list[0].at("id").as_string() == "acc.y-2");
    BOOST_TEST(list[1].at("id").as_string() == "acc_x");
    BOOST_TEST(list[1].at("name").as_string() == "X Corp");
}

BOOST_AUTO_TEST_CASE(keys_are_stored_as_hashes_listed_and_revoked) {
    ok({"account", "create", "acc_x"});
    ok({"account", "create", "acc_y"});
    refused({"key", "create", "acc_nobody"}, 1, "acc_nobody");
    const auto r = run({"key", "create", "acc_x"});
    BOOST_REQUIRE_MESSAGE(r.code == 0, describe(r));
    const std::string key = r.out.substr(0, r.out.find('\n'));
    BOOST_TEST(std::regex_match(key, std::regex("jk_[a-z2-7]{8}_[a-z2-7]{32}")), key);
    ok({"key", "create", "acc_y"});
    // Only the hash and the prefix are stored.
    BOOST_TEST(schema.exec("SELECT count(*) FROM api_keys WHERE key_hash = '" +
                           jobsd::model::hash_api_key(key) + "' AND prefix = '" + key.substr(0, 11) + "'") ==
               "1");
    BOOST_TEST(schema.exec("SELECT count(*) FROM api_keys WHERE key_hash = '" + key + "'") == "0");

    auto keys = ok_json({"key", "list", "--account", "acc_x"}).as_array();
    BOOST_REQUIRE_EQUAL(keys.size(), 1u);
    BOOST_TEST(keys[0].at("prefix").as_string() == key.substr(0, 11));
    BOOST_TEST(keys[0].at("revoked_at").is_null());
    BOOST_TEST(ok_json({"key", "list"}).as_array().size() == 2u);
    BOOST_TEST(ok_json({"key", "list", "--prefix", key.substr(0, 11)}).as_array().size() == 1u);
    BOOST_TEST(ok_json({"key", "list", "--prefix", "zz"}).as_array().empty());
    BOOST_TEST(ok_json({"key", "list", "--prefix", "jk_%"}).as_array().empty());  // no LIKE patterns

    refused({"key", "revoke", "jk_zzzzzzzz"}, 1, "no key has the prefix");
    BOOST_TEST(ok({"key", "revoke", key.substr(0, 11)}).find("revoked") != std::string::npos);
    keys = ok_json({"key", "list", "--account", "acc_x"}).as_array();
    BOOST_TEST(keys[0].at("revoked_at").is_string());
    BOOST_TEST(ok({"key", "revoke", key.substr(0, 11)}).find("already revoked") != std::string::npos);
    BOOST_TEST(ok_json({"key", "list", "--account", "acc_y"}).as_array()[0].at("revoked_at").is_null());
}

BOOST_AUTO_TEST_CASE(operator_keys) {
    const auto made = ok_json({"operator-key", "create", "--name", "dashboard"});
    const std::string key(made.at("key").as_string());
    BOOST_TEST(std::regex_match(key, std::regex("jo_[a-z2-7]{8}_[a-z2-7]{32}")), key);
    ok({"operator-key", "create"});
    const std::string prefix = key.substr(0, 11);
    BOOST_TEST(ok_json({"operator-key", "list"}).as_array().size() == 2u);
    BOOST_TEST(ok_json({"key", "list"}).as_array().empty());  // customer keys are apart
    refused({"key", "revoke", prefix}, 1, "no key has the prefix");
    ok({"operator-key", "revoke", prefix});
    const auto listed = ok_json({"operator-key", "list"});
    for (const auto& k : listed.as_array()) {
        const bool mine = k.at("prefix").as_string() == prefix;
        BOOST_TEST(k.at("revoked_at").is_string() == mine);
        if (mine) BOOST_TEST(k.at("name").as_string() == "dashboard");
    }
    BOOST_TEST(schema.exec("SELECT count(*) FROM operator_keys WHERE key_hash = '" +
                           jobsd::model::hash_api_key(key) + "' AND revoked_ms IS NOT NULL") == "1");
}

BOOST_AUTO_TEST_CASE(projects_and_image_prompts) {
    ok({"account", "create", "acc_x"});
    ok({"account", "create", "acc_y"});
    const auto file = dir.path() / "p.json";
    std::ofstream(file)
        << R"({"name": "Launch", "type": "video", "start_date": "2025-01-01", "end_date": null,
        "mapping_fields": {"title": {"label": "Title", "instructionType": "text"}}})";
    refused({"project", "put", "acc_nobody", file.string()}, 1, "acc_nobody");
    const std::string id(ok_json({"project", "put", "acc_x", file.string()}).at("id").as_string());
    BOOST_TEST(jobsd::model::is_uuid(id));
    auto list = ok_json({"project", "list", "--account", "acc_x"}).as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 1u);
    BOOST_TEST(list[0].at("id").as_string() == id);
    BOOST_TEST(list[0].at("start_date").as_string() == "2025-01-01T00:00:00.000Z");
    BOOST_TEST(list[0].at("end_date").is_null());
    BOOST_TEST(list[0].at("mapping_fields").at("title").at("label").as_string() == "Title");
    BOOST_TEST(!list[0].at("strict_values").as_bool());

    std::ofstream(file) << R"({"id": ")" + id +
                               R"(", "name": "Launch v2", "type": "video", "strict_values": true})";
    ok({"project", "put", "acc_x", file.string()});
    list = ok_json({"project", "list"}).as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 1u);
    BOOST_TEST(list[0].at("name").as_string() == "Launch v2");
    BOOST_TEST(list[0].at("mapping_fields").as_object().empty());
    BOOST_TEST(list[0].at("strict_values").as_bool());
    refused({"project", "put", "acc_y", file.string()}, 1, "belongs to another account");
    BOOST_TEST(ok_json({"project", "list", "--account", "acc_y"}).as_array().empty());
    BOOST_TEST(schema.exec("SELECT account_id FROM projects WHERE id = '" + id + "'") == "acc_x");

    std::ofstream(file) << R"({"name": "Hero", "prompt": "A product on marble"})";
    const auto prompt = ok_json({"image-prompt", "put", "acc_y", file.string()});
    auto prompts = ok_json({"image-prompt", "list", "--account", "acc_y"}).as_array();
    BOOST_REQUIRE_EQUAL(prompts.size(), 1u);
    BOOST_TEST(prompts[0].at("id") == prompt.at("id"));
    BOOST_TEST(prompts[0].at("prompt").as_string() == "A product on marble");
    std::ofstream(file) << R"({"id": )" + json::serialize(prompt.at("id")) +
                               R"(, "name": "Hero", "prompt": "x"})";
    refused({"image-prompt", "put", "acc_x", file.string()}, 1, "belongs to another account");
    BOOST_TEST(ok_json({"image-prompt", "list", "--account", "acc_x"}).as_array().empty());
}

BOOST_AUTO_TEST_CASE(jobs_created_by_pg_store_are_shown_and_listed_unpublished) {
    jobsd::store::job_record j;
    j.uuid = jobsd::model::new_uuid();
    j.account_id = "acc_a";
    j.source_id = "project-1";
    j.type = jobsd::model::job_type::tts;
    j.session_id = "s-1";
    j.input = R"({"type":"tts"})";
    j.created_ms = j.updated_ms = 1'700'000'000'000;
    j.version = 2;
    {
        jobsd::store::pg_options o;
        o.url = schema.url();
        jobsd::store::pg_store store(o);
        jobsd::store::async_create_job(store, j, boost::asio::use_future).get();
    }
    const auto job = ok_json({"job", "show", j.uuid});
    BOOST_TEST(job.at("uuid").as_string() == j.uuid);
    BOOST_TEST(job.at("account_id").as_string() == "acc_a");
    BOOST_TEST(job.at("job_type").as_string() == "tts");
    BOOST_TEST(job.at("job_status").as_string() == "QUEUED");
    BOOST_TEST(job.at("published").as_bool() == false);
    const auto outbox = ok_json({"job", "unpublished"}).as_array();
    BOOST_REQUIRE_EQUAL(outbox.size(), 1u);
    BOOST_TEST(outbox[0].at("uuid").as_string() == j.uuid);
    schema.exec("UPDATE jobs SET published = true");
    BOOST_TEST(ok_json({"job", "unpublished"}).as_array().empty());
    BOOST_TEST(ok_json({"job", "show", j.uuid}).at("published").as_bool() == true);
    refused({"job", "show", jobsd::model::new_uuid()}, 1, "unknown job");
}

BOOST_AUTO_TEST_CASE(requeue_dead_clears_the_claim_and_leaves_worker_failures_alone) {
    ok({"account", "list"});  // creates and migrates the schema
    const std::string dead = jobsd::model::new_uuid(), by_worker = jobsd::model::new_uuid(),
                      other_type = jobsd::model::new_uuid(), dead2 = jobsd::model::new_uuid();
    schema.exec(
        "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, input, progress, error,"
        " created_ms, updated_ms, published, claimed_by, claimed_until, expires_in_ms, expires_at_ms,"
        " cancel_requested_ms) VALUES"
        " ('" +
        dead +
        "', 'a', 'p', 'video', 'FAILED', '{}', 40,"
        "  'dead-lettered: delivery limit reached', 1, 2, true, 'instance-1', now() + interval '1 hour',"
        "  60000, 60001, 5),"
        " ('" +
        by_worker +
        "', 'a', 'p', 'video', 'FAILED', '{}', NULL, 'renderer crashed', 1, 2, true, NULL, NULL, NULL, NULL,"
        "  NULL),"
        " ('" +
        other_type +
        "', 'a', 'p', 'tts', 'FAILED', '{}', NULL, 'dead-lettered: rejected', 1, 2, true, NULL,"
        "  NULL, NULL, NULL, NULL),"
        " ('" +
        dead2 +
        "', 'a', 'p', 'video', 'FAILED', '{}', NULL, 'dead-lettered: rejected', 1, 2, true, NULL,"
        "  NULL, NULL, NULL, NULL)");
    BOOST_TEST(ok_json({"job", "unpublished"}).as_array().empty());
    const auto requeued = ok_json({"job", "requeue-dead", "video", "--limit", "5"}).at("requeued").as_array();
    BOOST_REQUIRE_EQUAL(requeued.size(), 2u);
    BOOST_TEST(requeued[0].as_string() == dead);  // oldest first
    BOOST_TEST(requeued[1].as_string() == dead2);

    const auto job = ok_json({"job", "show", dead});
    BOOST_TEST(job.at("job_status").as_string() == "QUEUED");
    BOOST_TEST(job.at("published").as_bool() == false);
    BOOST_TEST(job.at("error").is_null());
    BOOST_TEST(job.at("progress").is_null());
    BOOST_TEST(schema.exec("SELECT count(*) FROM jobs WHERE uuid = '" + dead +
                           "' AND claimed_by IS NULL AND claimed_until IS NULL") == "1");
    // As after a retry: its time to live again from now, and no cancel of an earlier attempt.
    BOOST_TEST(schema.exec("SELECT count(*) FROM jobs WHERE uuid = '" + dead +
                           "' AND expires_at_ms >= " + std::to_string(jobsd::model::now_ms() + 50'000) +
                           " AND cancel_requested_ms IS NULL") == "1");
    BOOST_TEST(schema.exec("SELECT count(*) FROM jobs WHERE uuid = '" + dead2 +
                           "' AND expires_at_ms IS NULL") == "1");
    BOOST_TEST(ok_json({"job", "unpublished"}).as_array().size() == 2u);
    BOOST_TEST(ok_json({"job", "show", by_worker}).at("job_status").as_string() == "FAILED");
    BOOST_TEST(ok_json({"job", "show", other_type}).at("job_status").as_string() == "FAILED");
    BOOST_TEST(ok({"job", "requeue-dead", "video"}).empty());
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_an_error_without_the_password) {
    const auto r = jobsd::test::run_jobsctl(dir.path(), "postgres://jobsd:s3cret-pw@127.0.0.1:1/jobs",
                                            {"account", "list"});
    BOOST_TEST(r.code == 1, describe(r));
    BOOST_TEST(r.err.find("cannot connect") != std::string::npos, describe(r));
    BOOST_TEST(r.err.find("s3cret-pw") == std::string::npos, describe(r));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- against a running jobsd on the same schema ----------------------------------------------

BOOST_FIXTURE_TEST_SUITE(pg_with_jobsd, pg_fixture)

// Two jobsd on one schema: a key made with jobsctl authenticates on both, and once revoked it
// is refused by both. Each instance's catalog is read from one snapshot, so once it shows a
// project put after the revocation, the revocation is in effect there too: asserted without
// slack; the time it took (one refresh, 1 s, is the promise) is only reported.
BOOST_AUTO_TEST_CASE(created_key_authenticates_and_revocation_reaches_every_instance) {
    jobsd::test::jobsd_options options;
    options.store_url = schema.url();
    temp_dir dir_b("jobsctl-pg-b");
    auto first = jobsd::test::start_jobsd(dir, options);
    auto second = jobsd::test::start_jobsd(dir_b, options);
    std::vector<std::unique_ptr<jobsd::test::http_client>> clients;
    for (auto* p : {first.get(), second.get()})
        clients.push_back(std::make_unique<jobsd::test::http_client>(p->host(), p->port()));

    ok({"account", "create", "acc_ctl"});
    const std::string key = ok({"key", "create", "acc_ctl"}).substr(0, 44);
    auto status = [&](jobsd::test::http_client& c) {
        return c.get("/api/provider/projects/active", key).status;
    };
    for (auto& c : clients) {
        const auto accepted = within(30s, [&] { return status(*c) == 200; });
        BOOST_REQUIRE_MESSAGE(accepted, "the new key was not accepted within 30 s: " << status(*c));
    }

    ok({"key", "revoke", key.substr(0, 11)});
    const auto file = dir.path() / "p.json";
    std::ofstream(file) << R"({"name": "After the revocation", "type": "tts"})";
    const std::string later(ok_json({"project", "put", "acc_a", file.string()}).at("id").as_string());
    for (std::size_t i = 0; i < clients.size(); ++i) {
        auto& c = *clients[i];
        BOOST_TEST_CONTEXT("instance " << i) {
            const auto refreshed = within(30s, [&] {
                return c.get("/api/provider/projects/" + later + "/mapping-fields", key_a).status == 200;
            });
            BOOST_REQUIRE_MESSAGE(refreshed, "the catalog was not refreshed within 30 s");
            BOOST_TEST(status(c) == 401u,
                       "the catalog has a project put after the revocation, and the key works");
            BOOST_TEST_MESSAGE("instance " << i << ": revocation in effect after " << refreshed->count()
                                           << " ms");
            BOOST_TEST(c.get("/api/provider/projects/active", key_a).status == 200u);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

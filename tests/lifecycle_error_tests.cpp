// The exact error answers of POST /jobs/:id/cancel and /jobs/:id/retry and of expires_in_s and
// priority at create: bad ids, another account's job (404, never a hint it exists), bad bodies, the wrong
// status; expires_in_s in a batch and the new statuses in the job list. jobsd alone on a SQLite
// file, publishing off (a job stays QUEUED in the outbox).
#define BOOST_TEST_MODULE lifecycle_errors
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <utility>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"

using namespace jobsd::test;
namespace json = boost::json;

namespace {

const std::string key_a = "key-a-5d1c8e7f2b9a4c6e";
const std::string key_b = "key-b-9e4a2f6c1d7b3e8a";
const std::string project_a = "468ea7a0-66e1-4357-a760-236e54167f3e";

struct server {
    temp_dir dir{"jobsd-lifecycle-errors"};
    std::unique_ptr<jobsd_process> jobsd =
        start_test_jobsd(dir, {{"JOBSD_LIFECYCLE_MAX_EXPIRES_IN_S", "3600"}});
    http_client c{jobsd->host(), jobsd->port()};

    http_response create(json::object extra = {}) {
        json::object body{{"job_type", "pdf"},
                          {"session_id", "s-err"},
                          {"version", 2},
                          {"template_id", project_a},
                          {"values", json::object{{"headline", "hi"}}}};
        for (const auto& m : extra) body[m.key()] = m.value();
        return c.post("/jobs/v2", key_a, json::serialize(body));
    }
    std::string queued_job() {
        auto r = create();
        BOOST_REQUIRE_MESSAGE(r.status == 201, r.body);
        return std::string(r.json().at("job").at("uuid").as_string());
    }
    http_response act(const std::string& id, const std::string& action, const std::string& body = "",
                      const std::string& key = key_a) {
        return c.post("/jobs/" + id + "/" + action, key, body);
    }
};

std::string message_of(const http_response& r) {
    return std::string(r.json().at("message").as_string());
}

// The fields an invalid-request answer names.
std::vector<std::string> fields_of(const http_response& r) {
    std::vector<std::string> out;
    const auto doc = r.json();
    const auto* errors = doc.as_object().if_contains("errors");
    if (!errors) return out;
    for (const auto& e : errors->as_array()) out.emplace_back(e.at("field").as_string());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(bad_ids_and_unknown_jobs_are_404) {
    server s;
    for (const std::string action : {"cancel", "retry"}) {
        for (const std::string id : {"not-a-uuid", "123", "6f1c1a51-0000-4000-8000-00000000000"}) {
            auto r = s.act(id, action);
            BOOST_TEST(r.status == 404u, action << " " << id << ": " << r.body);
            BOOST_TEST(message_of(r) == "Job not found");
        }
        auto r = s.act("6f1c1a51-0000-4000-8000-000000000000", action);  // well formed, never issued
        BOOST_TEST(r.status == 404u, r.body);
        BOOST_TEST(message_of(r) == "Job not found");
    }
}

BOOST_AUTO_TEST_CASE(another_accounts_job_is_404_like_an_unknown_one) {
    server s;
    const auto uuid = s.queued_job();
    const auto unknown = s.act("6f1c1a51-0000-4000-8000-000000000000", "cancel", "", key_b);
    for (const std::string action : {"cancel", "retry"}) {
        auto r = s.act(uuid, action, "", key_b);
        BOOST_TEST(r.status == 404u, r.body);
        BOOST_TEST(r.body == unknown.body);  // word for word: no hint the job exists
    }
    // And it changed nothing.
    auto job = s.c.get("/jobs/" + uuid, key_a).json();
    BOOST_TEST(job.at("job_status").as_string() == "QUEUED");
}

BOOST_AUTO_TEST_CASE(no_key_is_401) {
    server s;
    const auto uuid = s.queued_job();
    auto r = s.act(uuid, "cancel", "", "");
    BOOST_TEST(r.status == 401u, r.body);
    BOOST_TEST(s.c.get("/jobs/" + uuid, key_a).json().at("job_status").as_string() == "QUEUED");
}

BOOST_AUTO_TEST_CASE(bad_bodies_are_400_with_the_field) {
    server s;
    const auto uuid = s.queued_job();
    auto malformed = s.act(uuid, "cancel", "{\"reason\":");
    BOOST_TEST(malformed.status == 400u, malformed.body);
    BOOST_TEST(message_of(malformed).rfind("Malformed JSON body", 0) == 0u);
    auto not_object = s.act(uuid, "cancel", "[1]");
    BOOST_TEST(not_object.status == 400u, not_object.body);
    BOOST_TEST(message_of(not_object) == "Request body must be a JSON object");
    auto unknown = s.act(uuid, "cancel", R"({"reason":"bored"})");
    BOOST_TEST(unknown.status == 400u, unknown.body);
    BOOST_TEST(fields_of(unknown) == std::vector<std::string>{"reason"});
    // None of them touched the job.
    BOOST_TEST(s.c.get("/jobs/" + uuid, key_a).json().at("job_status").as_string() == "QUEUED");

    for (const std::string bad :
         {R"({"expires_in_s":0})", R"({"expires_in_s":3601})", R"({"expires_in_s":1.5})",
          R"({"expires_in_s":"60"})", R"({"priority":"high"})"}) {
        auto r = s.act(uuid, "retry", bad);
        BOOST_TEST(r.status == 400u, bad << ": " << r.body);
    }
    auto r = s.act(uuid, "retry", R"({"expires_in_s":0})");
    BOOST_TEST(fields_of(r) == std::vector<std::string>{"expires_in_s"});
}

BOOST_AUTO_TEST_CASE(expires_in_s_at_create_is_bounded) {
    server s;
    for (const auto& bad :
         {json::value(0), json::value(3601), json::value(-5), json::value(2.5), json::value("10")}) {
        auto r = s.create({{"expires_in_s", bad}});
        BOOST_TEST(r.status == 400u, json::serialize(bad) << ": " << r.body);
        BOOST_TEST(fields_of(r) == std::vector<std::string>{"expires_in_s"}, r.body);
    }
    // null is no time to live, as the OpenAPI document's ["integer", "null"] says.
    auto none = s.create({{"expires_in_s", nullptr}});
    BOOST_TEST_REQUIRE(none.status == 201u, none.body);
    const std::string no_ttl(none.json().at("job").at("uuid").as_string());
    BOOST_TEST(!s.c.get("/jobs/" + no_ttl, key_a).json().as_object().contains("expires_at"));
    auto ok = s.create({{"expires_in_s", 3600}});
    BOOST_TEST_REQUIRE(ok.status == 201u, ok.body);
    const std::string uuid(ok.json().at("job").at("uuid").as_string());
    const auto job = s.c.get("/jobs/" + uuid, key_a).json();
    BOOST_TEST_REQUIRE(job.as_object().contains("expires_at"), json::serialize(job));
    BOOST_TEST(job.at("expires_at").as_string() > job.at("created_at").as_string());
    BOOST_TEST(job.at("attempts").as_int64() == 1);
    // Without expires_in_s (and no default for the type) a job has no deadline.
    const auto plain = s.queued_job();
    BOOST_TEST(!s.c.get("/jobs/" + plain, key_a).json().as_object().contains("expires_at"));
}

BOOST_AUTO_TEST_CASE(priority_at_create_is_a_name_or_a_level_from_1_to_5) {
    server s;
    for (const auto& bad : {json::value("urgent"), json::value(0), json::value(6), json::value(2.5),
                            json::value(true), json::value("High")}) {
        auto r = s.create({{"priority", bad}});
        BOOST_TEST(r.status == 400u, json::serialize(bad) << ": " << r.body);
        BOOST_TEST(fields_of(r) == std::vector<std::string>{"priority"}, r.body);
    }
    for (const auto& [given, level] : {std::pair{json::value("high"), 5}, std::pair{json::value("low"), 1},
                                       std::pair{json::value(4), 4}, std::pair{json::value(nullptr), 3}}) {
        auto ok = s.create({{"priority", given}});
        BOOST_TEST_REQUIRE(ok.status == 201u, ok.body);
        const std::string uuid(ok.json().at("job").at("uuid").as_string());
        BOOST_TEST(s.c.get("/jobs/" + uuid, key_a).json().at("priority").as_int64() == level);
    }
    BOOST_TEST(s.c.get("/jobs/" + s.queued_job(), key_a).json().at("priority").as_int64() == 3);
}

// Publishing is off, so the job stays QUEUED: it is cancelled at once, and a repeat answers the same.
BOOST_AUTO_TEST_CASE(queued_job_cancelled_at_once_then_retry_and_conflicts) {
    server s;
    const auto uuid = s.queued_job();
    auto retry_queued = s.act(uuid, "retry");
    BOOST_TEST(retry_queued.status == 409u, retry_queued.body);
    BOOST_TEST(retry_queued.json().at("job_status").as_string() == "QUEUED");

    auto first = s.act(uuid, "cancel");
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    BOOST_TEST(first.json().at("job").at("job_status").as_string() == "CANCELLED");
    auto second = s.act(uuid, "cancel");
    BOOST_TEST(second.status == 200u, second.body);
    BOOST_TEST(second.json().at("job").at("job_status").as_string() == "CANCELLED");

    auto retried = s.act(uuid, "retry");
    BOOST_TEST_REQUIRE(retried.status == 202u, retried.body);
    BOOST_TEST(retried.json().at("job").at("job_status").as_string() == "QUEUED");
    BOOST_TEST(retried.json().at("job").at("attempts").as_int64() == 2);
    auto job = s.c.get("/jobs/" + uuid, key_a).json();
    BOOST_TEST(job.at("attempts").as_int64() == 2);
    BOOST_TEST(job.at("job_status").as_string() == "QUEUED");
}

// A job's id in upper case names the same job (uuids read either case); answers give it as
// jobsd wrote it.
BOOST_AUTO_TEST_CASE(an_id_in_upper_case_names_the_same_job) {
    server s;
    const auto uuid = s.queued_job();
    std::string upper = uuid;
    for (char& c : upper)
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    BOOST_TEST_REQUIRE(upper != uuid);
    auto got = s.c.get("/jobs/" + upper, key_a);
    BOOST_TEST_REQUIRE(got.status == 200u, got.body);
    BOOST_TEST(got.json().at("uuid").as_string() == uuid);
    BOOST_TEST(s.c.get("/jobs/" + upper, key_b).status == 404u);  // still the owner's alone
    auto cancelled = s.act(upper, "cancel");
    BOOST_TEST_REQUIRE(cancelled.status == 200u, cancelled.body);
    auto retried = s.act(upper, "retry");
    BOOST_TEST(retried.status == 202u, retried.body);
    BOOST_TEST(s.c.get("/jobs/" + uuid, key_a).json().at("attempts").as_int64() == 2);
}

// A batch's jobs take expires_in_s exactly as a single create does: each bounded (a bad one
// refuses the whole batch, naming its index), each kept with its own job.
BOOST_AUTO_TEST_CASE(batch_jobs_take_expires_in_s_bounded_like_single_ones) {
    server s;
    auto job = [](std::optional<int> ttl) {
        json::object body{
            {"job_type", "pdf"}, {"template_id", project_a}, {"values", json::object{{"headline", "hi"}}}};
        if (ttl) body["expires_in_s"] = *ttl;
        return body;
    };
    auto refused =
        s.c.post("/jobs/v2/batch", key_a,
                 json::serialize(json::object{{"jobs", json::array{job({}), job(60), job(3601)}}}));
    BOOST_TEST_REQUIRE(refused.status == 400u, refused.body);
    const auto errors = refused.json().at("errors").as_array();
    BOOST_TEST_REQUIRE(errors.size() == 1u, refused.body);
    BOOST_TEST(errors[0].at("index").as_int64() == 2);
    BOOST_TEST(errors[0].at("field").as_string() == "expires_in_s");

    auto created =
        s.c.post("/jobs/v2/batch", key_a,
                 json::serialize(json::object{{"jobs", json::array{job({}), job(60), job(3600)}}}));
    BOOST_TEST_REQUIRE(created.status == 201u, created.body);
    const auto jobs = created.json().at("jobs").as_array();
    BOOST_TEST_REQUIRE(jobs.size() == 3u, created.body);
    std::vector<json::object> read;
    for (const auto& j : jobs) {
        auto got = s.c.get("/jobs/" + std::string(j.at("uuid").as_string()), key_a);
        BOOST_TEST_REQUIRE(got.status == 200u, got.body);
        read.push_back(got.json().as_object());
    }
    BOOST_TEST(!read[0].contains("expires_at"), json::serialize(read[0]));
    BOOST_TEST_REQUIRE(read[1].contains("expires_at"), json::serialize(read[1]));
    BOOST_TEST_REQUIRE(read[2].contains("expires_at"), json::serialize(read[2]));
    BOOST_TEST(read[1].at("expires_at").as_string() > read[1].at("created_at").as_string());
    BOOST_TEST(read[2].at("expires_at").as_string() > read[1].at("expires_at").as_string());
    for (const auto& j : read) BOOST_TEST(j.at("attempts").as_int64() == 1);
}

// GET /jobs/v2 lists CANCELLED and EXPIRED like the other statuses, filters by them, shows the
// attempts, and names every status when one is unknown.
BOOST_AUTO_TEST_CASE(the_list_shows_and_filters_the_new_statuses) {
    server s;
    const auto cancelled = s.queued_job();
    const auto queued = s.queued_job();
    BOOST_TEST_REQUIRE(s.act(cancelled, "cancel").status == 200u);
    auto uuids_of = [&](const std::string& query) {
        auto r = s.c.get("/jobs/v2?" + query, key_a);
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        std::vector<std::string> out;
        const auto page = r.json();  // alive while its array is read
        for (const auto& j : page.at("data").as_array()) {
            BOOST_TEST(j.at("attempts").as_int64() == 1);
            out.emplace_back(j.at("uuid").as_string());
        }
        return out;
    };
    BOOST_TEST(uuids_of("status=CANCELLED") == std::vector<std::string>{cancelled});
    BOOST_TEST(uuids_of("status=QUEUED") == std::vector<std::string>{queued});
    BOOST_TEST(uuids_of("status=EXPIRED").empty());
    BOOST_TEST(uuids_of("status=CANCELLED&status=QUEUED").size() == 2u);
    auto bad = s.c.get("/jobs/v2?status=REVOKED", key_a);
    BOOST_TEST_REQUIRE(bad.status == 400u, bad.body);
    const std::string problem(bad.json().at("errors").as_array().at(0).at("problem").as_string());
    BOOST_TEST(problem.find("CANCELLED") != std::string::npos, problem);
    BOOST_TEST(problem.find("EXPIRED") != std::string::npos, problem);
}

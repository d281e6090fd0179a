// The sans-I/O parts of the list and the batch: the batch envelope split into each job's own
// text, the values check of strict projects, the list's query string and its cursor, the rate
// limiter's tokens per job, and the SQL the store runs for a list.
#define BOOST_TEST_MODULE list_batch_unit
#include <boost/test/unit_test.hpp>

#include <boost/json/parse.hpp>

#include <chrono>

#include "model/batch_request.hpp"
#include "model/create_request.hpp"
#include "model/strict_json.hpp"
#include "model/values_check.hpp"
#include "server/list_query.hpp"
#include "server/rate_limiter.hpp"
#include "store/job_query.hpp"

using namespace jobsd;
namespace json = boost::json;

namespace {

model::batch_request split(std::string_view body, std::size_t max = 1000) {
    auto r = model::parse_batch_request(body, max);
    BOOST_TEST_REQUIRE(std::holds_alternative<model::batch_request>(r), body);
    return std::get<model::batch_request>(r);
}

std::string refusal(std::string_view body, std::size_t max = 1000) {
    auto r = model::parse_batch_request(body, max);
    if (!std::holds_alternative<model::request_error>(r)) return "accepted";
    const auto& e = std::get<model::request_error>(r);
    return e.errors.empty() ? e.message : e.errors[0].field + ": " + e.errors[0].problem;
}

model::project strict_project() {
    model::project p;
    p.strict_values = true;
    p.mapping_fields =
        json::parse(R"({"headline":{"instructionType":"text"},"voiceover":{"instructionType":"audio"},
                                      "avatar":{"instructionType":"image"},"mood":{"instructionType":"choice"}})")
            .as_object();
    return p;
}

std::vector<std::string> problems(std::string_view values) {
    const auto v = json::parse(values);
    std::vector<std::string> out;
    for (const auto& e : model::check_values(strict_project(), &v.as_object()))
        out.push_back(e.field + ": " + e.problem);
    return out;
}

std::string query_refusal(std::string_view target) {
    auto r = server::parse_list_query(target);
    if (!std::holds_alternative<model::request_error>(r)) return "accepted";
    return std::get<model::request_error>(r).errors.at(0).field;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_batch_is_split_into_each_jobs_exact_text) {
    const auto b =
        split(" {\"jobs\" : [ {\"a\":\"x]\\\"}\"} ,{\"b\":[1,{\"c\":2}]},  3.50 , \"s\",null ] } ");
    BOOST_TEST_REQUIRE(b.jobs.size() == 5u);
    BOOST_TEST(b.jobs[0] == "{\"a\":\"x]\\\"}\"}");
    BOOST_TEST(b.jobs[1] == "{\"b\":[1,{\"c\":2}]}");
    BOOST_TEST(b.jobs[2] == "3.50");
    BOOST_TEST(b.jobs[3] == "\"s\"");
    BOOST_TEST(b.jobs[4] == "null");
    // An escaped key is the same member.
    BOOST_TEST(split(R"({"\u006aobs":[{}]})").jobs.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_batch_envelope_is_checked) {
    BOOST_TEST(refusal(R"({"jobs":[]})") == "jobs: must hold at least one job");
    BOOST_TEST(refusal(R"({"jobs":{}})") == "jobs: must be an array of job bodies");
    BOOST_TEST(refusal(R"({})") == "jobs: is required: an array of job bodies");
    BOOST_TEST(refusal(R"({"jobs":[{}],"x":1})").starts_with("x: "));
    BOOST_TEST(refusal(R"([{}])") == "Request body must be a JSON object");
    BOOST_TEST(refusal(R"({"jobs":[{}],"jobs":[{}]})").starts_with("Malformed JSON body"));
    BOOST_TEST(refusal(R"({"jobs":[{},{},{}]})", 2) == "jobs: holds 3 jobs; a batch holds at most 2");
    BOOST_TEST(refusal(R"({"jobs":[{},{}]})", 2) == "accepted");
}

// A job as deep as a single create takes (max_json_depth) is taken inside a batch, two levels
// down; one level deeper is refused in both.
BOOST_AUTO_TEST_CASE(a_batch_takes_jobs_as_deep_as_a_create_does) {
    auto job = [](std::size_t depth) {  // an object holding arrays, `depth` levels in all
        return R"({"job_type":"pdf","x":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
    };
    const auto deepest = job(model::max_json_depth);
    BOOST_TEST(std::holds_alternative<model::create_request>(model::parse_create_request(deepest)));
    BOOST_TEST(split(R"({"jobs":[)" + deepest + "]}").jobs.size() == 1u);
    const auto too_deep = job(model::max_json_depth + 1);
    BOOST_TEST(std::holds_alternative<model::request_error>(model::parse_create_request(too_deep)));
    BOOST_TEST(refusal(R"({"jobs":[)" + too_deep + "]}").starts_with("Malformed JSON body"));
}

BOOST_AUTO_TEST_CASE(strict_values_list_every_problem) {
    BOOST_TEST(problems(R"({"headline":"Hi","voiceover":"https://x.example/a.mp3",
                            "avatar":{"image_url":"http://x.example/a.png"},"mood":["any"]})")
                   .empty());
    const std::vector<std::string> expected{
        "values.headline: must be text (a non-empty string)",
        "values.voiceover: must be an audio URL (http or https), as a string or as {\"audio_url\": …}",
        "values.avatar: is required by the project (image)",
        "values.mood: is required by the project (choice)", "values.extra: is not a field of the project"};
    BOOST_TEST(
        problems(R"({"headline":"","voiceover":{"image_url":"https://x.example/a.png"},"extra":"1"})") ==
        expected);
    BOOST_TEST(
        problems(R"({"headline":"a","voiceover":"ftp://x/a","avatar":"not a url","mood":1})") ==
        (std::vector<std::string>{
            "values.voiceover: must be an audio URL (http or https), as a string or as {\"audio_url\": …}",
            "values.avatar: must be an image URL (http or https), as a string or as {\"image_url\": …}"}));
    // A lenient project takes anything; a body without values misses every field.
    model::catalog cat;
    auto p = strict_project();
    p.id = "p";
    p.account_id = "a";
    cat.projects.emplace("p", p);
    BOOST_TEST(model::check_job_values(cat, "a", "p", R"({"job_type":"video"})").size() == 4u);
    BOOST_TEST(model::check_job_values(cat, "b", "p", R"({"job_type":"video"})").empty());
    cat.projects["p"].strict_values = false;
    BOOST_TEST(model::check_job_values(cat, "a", "p", R"({"job_type":"video"})").empty());
}

BOOST_AUTO_TEST_CASE(list_parameters) {
    auto r = server::parse_list_query(
        "/jobs/v2?status=QUEUED&status=FAILED&job_type=tts&session_id=s%201&project_id=p&limit=7"
        "&created_after=2026-01-01T00:00:00Z&created_before=2026-01-02");
    BOOST_TEST_REQUIRE(std::holds_alternative<server::list_request>(r));
    const auto& q = std::get<server::list_request>(r).query;
    BOOST_TEST(q.statuses.size() == 2u);
    BOOST_TEST((q.type.value() == model::job_type::tts));
    BOOST_TEST(q.session_id.value() == "s 1");
    BOOST_TEST(q.source_id.value() == "p");
    BOOST_TEST(q.limit == 7u);
    BOOST_TEST(q.created_after.value() == 1767225600000);
    BOOST_TEST(q.created_before.value() == 1767312000000);
    BOOST_TEST(std::get<server::list_request>(r).other_params.find("session_id=s%201&") != std::string::npos);
    BOOST_TEST(std::get<server::list_request>(server::parse_list_query("/jobs/v2")).query.limit == 50u);
    BOOST_TEST(query_refusal("/jobs/v2?limit=1000") == "accepted");
    BOOST_TEST(query_refusal("/jobs/v2?limit=1001") == "limit");
    BOOST_TEST(query_refusal("/jobs/v2?limit=-1") == "limit");
    BOOST_TEST(query_refusal("/jobs/v2?job_type=tts&job_type=pdf") == "job_type");
    BOOST_TEST(query_refusal("/jobs/v2?template_id=a&project_id=a") == "accepted");
    BOOST_TEST(query_refusal("/jobs/v2?template_id=a&project_id=b") == "project_id");
    BOOST_TEST(query_refusal("/jobs/v2?created_after=2026-01-01T00:00:00%2B02:00") == "accepted");
    BOOST_TEST(query_refusal("/jobs/v2?sort=asc") == "sort");
    // Empty pieces name nothing; a named parameter without a value is still refused.
    BOOST_TEST(query_refusal("/jobs/v2?status=QUEUED&") == "accepted");
    BOOST_TEST(query_refusal("/jobs/v2?&&limit=3&&") == "accepted");
    BOOST_TEST(query_refusal("/jobs/v2?") == "accepted");
    BOOST_TEST(query_refusal("/jobs/v2?limit=") == "limit");
    BOOST_TEST(query_refusal("/jobs/v2?=3") == "");
    const auto trailing = server::parse_list_query("/jobs/v2?limit=3&&job_type=tts&");
    BOOST_TEST_REQUIRE(std::holds_alternative<server::list_request>(trailing));
    BOOST_TEST(std::get<server::list_request>(trailing).query.limit == 3u);
    BOOST_TEST(std::get<server::list_request>(trailing).other_params == "limit=3&job_type=tts&");
}

BOOST_AUTO_TEST_CASE(cursors_round_trip_and_refuse_any_change) {
    const store::job_position at{1767225600123, "0190f3c2-8a4e-7b21-9c3d-5e6f7a8b9c0d"};
    const auto text = server::encode_cursor(at);
    BOOST_TEST(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               std::string::npos);
    const auto back = server::decode_cursor(text);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->created_ms == at.created_ms);
    BOOST_TEST(back->uuid == at.uuid);
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto changed = text;
        changed[i] = changed[i] == 'A' ? 'B' : 'A';
        BOOST_TEST(!server::decode_cursor(changed).has_value(), changed);
    }
    BOOST_TEST(!server::decode_cursor(text + "A").has_value());
    BOOST_TEST(!server::decode_cursor(text.substr(1)).has_value());
    BOOST_TEST(!server::decode_cursor("").has_value());
    BOOST_TEST(!server::decode_cursor("MS4xLnk").has_value());  // "1.1.y": no uuid
}

BOOST_AUTO_TEST_CASE(a_batch_takes_one_token_per_job_all_or_none) {
    const auto t0 = server::token_bucket::clock::now();
    server::token_bucket bucket(1.0, 10.0, t0);
    BOOST_TEST(bucket.take(t0, 7).allowed);
    const auto refused = bucket.take(t0, 4);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.remaining == 3u);  // nothing was taken
    BOOST_TEST(refused.retry_after_s == 1u);
    BOOST_TEST(bucket.take(t0, 3).allowed);
    BOOST_TEST(!bucket.take(t0 + std::chrono::seconds(4), 5).allowed);
    BOOST_TEST(bucket.take(t0 + std::chrono::seconds(5), 5).allowed);
}

BOOST_AUTO_TEST_CASE(list_sql_binds_every_filter) {
    store::job_query q;
    q.account_id = "a";
    q.session_id = "s";
    q.statuses = {model::job_status::queued, model::job_status::failed};
    q.after = store::job_position{5, "u"};
    q.limit = 11;
    const auto pg = store::list_jobs_sql(q, "uuid", true);
    BOOST_TEST(pg.sql ==
               "SELECT uuid FROM jobs WHERE account_id = $1 AND session_id = $2 AND (created_ms, uuid) < "
               "($3, $4) AND "
               "job_status IN ($5, $6) ORDER BY created_ms DESC, uuid DESC LIMIT $7");
    BOOST_TEST(pg.params.size() == 7u);
    BOOST_TEST(std::get<std::string>(pg.params[4]) == "QUEUED");
    BOOST_TEST(std::get<std::int64_t>(pg.params[6]) == 11);
    const auto sqlite = store::list_jobs_sql(q, "uuid", false);
    BOOST_TEST(
        sqlite.sql.starts_with("SELECT * FROM (SELECT jobs.uuid FROM session_jobs s CROSS JOIN jobs ON "
                               "jobs.seq = s.seq WHERE s.account_id = ?1 AND s.session_id = ?2 AND"));
    BOOST_TEST(sqlite.sql.find("FROM jobs NOT INDEXED WHERE account_id = ?1 AND session_id = ?2") !=
               std::string::npos);
    BOOST_TEST(sqlite.params.size() == 7u, "each value bound once, named in both parts");
}

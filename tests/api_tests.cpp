// Black-box tests of the HTTP contract (shared API.md): each suite starts its own jobsd child on a
// fresh SQLite file with tests/data/seed_test.json and talks to it over HTTP only.
#define BOOST_TEST_MODULE api_tests
#include <boost/test/unit_test.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/request_threads.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/sqlite_file.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <fstream>
#include <latch>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace json = boost::json;
namespace utf = boost::unit_test;
using boost::beast::http::verb;
using jobsd::test::header_list;
using jobsd::test::http_client;
using jobsd::test::http_response;
using jobsd::test::jobsd_process;
using jobsd::test::required_env;
using jobsd::test::temp_dir;
using namespace jobsd::test::seed;

namespace {

constexpr std::string_view unknown_uuid = "00000000-0000-4000-8000-000000000000";

constexpr std::string_view committed_metric = "jobsd_store_jobs_committed_total";
constexpr std::string_view transactions_metric = "jobsd_store_transactions_total";

const std::regex iso_time_re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$)");
const std::regex uuid_re(R"(^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)");

std::filesystem::path data_dir() {
    return required_env("JOBSD_TEST_DATA");
}

// An unlabelled sample of /metrics; throws when it is absent, so it never reads as zero.
double metric(http_client& client, std::string_view name) {
    return jobsd::test::metric(client, std::string(name));
}

// One jobsd per suite (used with utf::fixture), plus a shared keep-alive client for the suite's
// sequential test cases. `current()` is how test cases reach it.
class jobsd_server {
  public:
    jobsd_server()
        : process_(jobsd::test::start_test_jobsd(dir_)), client_(process_->host(), process_->port()) {
        try {
            committed_at_start_ = metric(client(), committed_metric);
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("first request to jobsd failed: ") + e.what() + "\n" +
                                     process_->diagnosis());
        }
        current_ = this;
    }
    ~jobsd_server() {
        current_ = nullptr;
        try {
            if (process_->running()) process_->stop();
        } catch (...) {
            // The process destructor SIGKILLs whatever is left; teardown must not throw.
        }
    }

    static jobsd_server& current() {
        if (current_ == nullptr) throw std::logic_error("no jobsd_server fixture on this suite");
        return *current_;
    }

    // Fails fast, with the server's stderr, once jobsd has died under the suite.
    http_client& client() {
        if (!process_->running()) throw std::runtime_error(process_->diagnosis());
        if (process_->check_exit()) throw std::runtime_error(process_->diagnosis());
        return client_;
    }
    jobsd_process& process() { return *process_; }
    const temp_dir& dir() const { return dir_; }
    double committed_at_start() const { return committed_at_start_; }

  private:
    inline static jobsd_server* current_ = nullptr;
    temp_dir dir_;  // declared first: outlives the process that works in it
    std::unique_ptr<jobsd_process> process_;
    http_client client_;
    double committed_at_start_ = 0;
};

http_client& api() {
    return jobsd_server::current().client();
}
double committed() {
    return metric(api(), committed_metric);
}

// The seed file's project `id`, for comparing what the server serves with what it was given.
json::object seed_project(std::string_view id) {
    std::ifstream in(data_dir() / "seed_test.json");
    std::stringstream text;
    text << in.rdbuf();
    const auto seed = json::parse(text.str());
    for (const auto& account : seed.at("accounts").as_array()) {
        for (const auto& project : account.at("projects").as_array()) {
            if (project.at("id").as_string() == id) return project.as_object();
        }
    }
    throw std::runtime_error("project " + std::string(id) + " is not in seed_test.json");
}

// `key` of object `v` as a std::string, or a marker saying why there is none, so that failed
// comparisons print something useful instead of throwing.
std::string str(const json::value& v, std::string_view key) {
    const auto* obj = v.if_object();
    if (obj == nullptr) return "<not an object: " + json::serialize(v) + ">";
    const auto* member = obj->if_contains(key);
    if (member == nullptr) return "<no " + std::string(key) + ">";
    if (!member->is_string())
        return "<" + std::string(key) + " not a string: " + json::serialize(*member) + ">";
    return std::string(member->as_string());
}

std::string message_of(const http_response& r) {
    try {
        return str(r.json(), "message");
    } catch (const std::exception& e) {
        return std::string("<") + e.what() + ">";
    }
}

void expect_json_content_type(const http_response& r) {
    const auto type = r.header("Content-Type");
    BOOST_TEST(type.starts_with("application/json"), "Content-Type is '" << type << "'");
}

void expect_answer(const http_response& r, unsigned status, std::string_view message) {
    BOOST_TEST(r.status == status, "status " << r.status << ", expected " << status << "; body: " << r.body);
    BOOST_TEST(message_of(r) == message, "body: " << r.body);
    expect_json_content_type(r);
}

// True when `actual` names `field` itself or something inside it ("values.avatar.image_url").
bool names_field(std::string_view actual, std::string_view field) {
    if (actual == field) return true;
    if (!actual.starts_with(field) || actual.size() == field.size()) return false;
    const char next = actual[field.size()];
    return next == '.' || next == '[' || next == '/';
}

void expect_field_error(const http_response& r, std::string_view field) {
    expect_answer(r, 400, "Invalid request");
    bool found = false;
    try {
        const auto answer = r.json();
        for (const auto& error : answer.at("errors").as_array()) {
            const auto& e = error.as_object();
            if (names_field(e.at("field").as_string(), field)) {
                found = true;
                BOOST_TEST(!e.at("problem").as_string().empty(), "empty problem for " << field);
            }
        }
    } catch (const std::exception& e) {
        BOOST_ERROR("errors array malformed (" << e.what() << "): " << r.body);
    }
    BOOST_TEST(found, "no error names field '" << field << "'; body: " << r.body);
}

http_response post_job(std::string_view key, const json::value& body) {
    return api().post("/jobs/v2", key, json::serialize(body));
}

// Posts a request that must be refused, and checks that the store committed nothing meanwhile.
http_response post_text_rejected(std::string_view key, std::string body,
                                 std::string_view content_type = "application/json") {
    const double before = committed();
    auto res = api().post("/jobs/v2", key, std::move(body), content_type);
    const double after = committed();
    BOOST_TEST(after == before,
               "a refused request (status " << res.status << ") committed " << (after - before) << " job(s)");
    return res;
}

http_response post_rejected(std::string_view key, const json::value& body) {
    return post_text_rejected(key, json::serialize(body));
}

// A request every test seed accepts; error tests break exactly one thing in it.
json::object valid_job() {
    return json::object{{"job_type", "ai_talking_video"},
                        {"template_id", project_a1},
                        {"version", 2},
                        {"session_id", "sess-black-box"},
                        {"values", json::object{{"headline", "Spring sale"}}}};
}

void expect_field_rejected(json::object body, std::string_view field) {
    expect_field_error(post_rejected(key_a, body), field);
}

// Posts a job that must be accepted; returns the answer's `job` object (empty on failure).
json::object expect_created(std::string_view key, const json::value& body) {
    const auto res = post_job(key, body);
    BOOST_TEST(res.status == 201u, "status " << res.status << "; body: " << res.body);
    if (res.status != 201) return {};
    expect_json_content_type(res);
    const auto answer = res.json();
    BOOST_TEST(str(answer, "message") == "Job update accepted and processing.");
    const auto* job = answer.as_object().if_contains("job");
    BOOST_TEST_REQUIRE(job != nullptr, "no job in " << res.body);
    BOOST_TEST(std::regex_match(str(*job, "uuid"), uuid_re), "uuid " << str(*job, "uuid"));
    BOOST_TEST(str(*job, "job_status") == "QUEUED");
    BOOST_TEST(str(*job, "job_type") == str(body, "job_type"));
    return job->as_object();
}

// Checks the no-write rule over a whole suite of error cases; declared last in such suites.
void expect_suite_committed_nothing() {
    const double now = committed();
    BOOST_TEST(now == jobsd_server::current().committed_at_start(),
               "error cases committed " << (now - jobsd_server::current().committed_at_start()) << " job(s)");
}

std::set<std::string> project_ids(const http_response& r) {
    std::set<std::string> ids;
    const auto answer = r.json();
    for (const auto& p : answer.at("data").as_array()) ids.insert(str(p, "projectId"));
    return ids;
}

const json::value* find_project(const json::array& list, std::string_view id) {
    for (const auto& p : list) {
        if (str(p, "projectId") == id) return &p;
    }
    return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(authentication, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(post_without_key_is_401) {
    expect_answer(post_rejected({}, valid_job()), 401, "Unauthorized");
}

BOOST_AUTO_TEST_CASE(post_with_unknown_key_is_401) {
    expect_answer(post_rejected("key-nobody-has", valid_job()), 401, "Unauthorized");
}

BOOST_AUTO_TEST_CASE(empty_key_header_is_401) {
    const auto res = api().request(verb::get, "/api/provider/projects/active", {{"x-api-key", ""}});
    expect_answer(res, 401, "Unauthorized");
}

BOOST_AUTO_TEST_CASE(key_is_checked_before_the_body) {
    expect_answer(post_text_rejected({}, "{not json", "text/plain"), 401, "Unauthorized");
    expect_answer(post_text_rejected("key-nobody-has", "[1,2,3]"), 401, "Unauthorized");
}

// A body past the route's limit is judged after the key (API.md: 401 before any other check); it is
// not read, and its connection closes after the answer, as after a 413.
BOOST_AUTO_TEST_CASE(key_is_checked_before_the_body_size) {
    auto body = valid_job();
    body["padding"] = std::string(70 * 1024, 'x');  // body_limit in jobsd_test.json is 65536
    const auto& server = jobsd_server::current().process();
    for (const std::string key : {"", "key-nobody-has"}) {
        http_client client(server.host(), server.port());
        expect_answer(client.post("/jobs/v2", key, json::serialize(body)), 401, "Unauthorized");
        BOOST_TEST(!client.connected(), "the connection of an unread body stayed open");
    }
    http_client client(server.host(), server.port());
    expect_answer(client.post("/jobs/v2", key_a, json::serialize(body)), 413, "Request body too large");
}

BOOST_AUTO_TEST_CASE(get_job_without_key_is_401) {
    expect_answer(api().get("/jobs/" + std::string(unknown_uuid)), 401, "Unauthorized");
    expect_answer(api().get("/jobs/" + std::string(unknown_uuid), "wrong-key"), 401, "Unauthorized");
}

BOOST_AUTO_TEST_CASE(active_projects_without_key_is_401) {
    expect_answer(api().get("/api/provider/projects/active"), 401, "Unauthorized");
    expect_answer(api().get("/api/provider/projects/active", "wrong-key"), 401, "Unauthorized");
}

BOOST_AUTO_TEST_CASE(mapping_fields_without_key_is_401) {
    const auto target = "/api/provider/projects/" + std::string(project_a1) + "/mapping-fields";
    expect_answer(api().get(target), 401, "Unauthorized");
    expect_answer(api().get(target, "wrong-key"), 401, "Unauthorized");
}

BOOST_AUTO_TEST_CASE(healthz_needs_no_key) {
    BOOST_TEST(api().get("/healthz").status == 200u);
}

BOOST_AUTO_TEST_CASE(metrics_need_no_key_and_expose_store_counters) {
    const auto res = api().get("/metrics");
    BOOST_TEST(res.status == 200u);
    BOOST_TEST(res.header("Content-Type").starts_with("text/plain"),
               "Content-Type " << res.header("Content-Type"));
    BOOST_CHECK_NO_THROW(metric(api(), committed_metric));
    BOOST_CHECK_NO_THROW(metric(api(), transactions_metric));
}

BOOST_AUTO_TEST_CASE(error_cases_committed_nothing) {
    expect_suite_committed_nothing();
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(routing, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(unknown_route_is_404) {
    expect_answer(api().get("/no/such/route", key_a), 404, "Not found");
    expect_answer(api().get("/api/provider/unknown", key_a), 404, "Not found");
}

BOOST_AUTO_TEST_CASE(unknown_post_route_is_404) {
    expect_answer(api().post("/api/jobs/v2", key_a, json::serialize(valid_job())), 404, "Not found");
}

BOOST_AUTO_TEST_CASE(wrong_method_on_job_route_is_405_with_allow) {
    const auto res =
        api().request(verb::post, "/jobs/" + std::string(unknown_uuid),
                      {{"x-api-key", std::string(key_a)}, {"Content-Type", "application/json"}}, "{}");
    expect_answer(res, 405, "Method not allowed");
    BOOST_TEST(res.header("Allow").find("GET") != std::string::npos, "Allow: " << res.header("Allow"));
}

BOOST_AUTO_TEST_CASE(wrong_method_on_create_route_is_405_with_allow) {
    const auto res = api().request(verb::put, "/jobs/v2",
                                   {{"x-api-key", std::string(key_a)}, {"Content-Type", "application/json"}},
                                   json::serialize(valid_job()));
    expect_answer(res, 405, "Method not allowed");
    BOOST_TEST(res.header("Allow").find("POST") != std::string::npos, "Allow: " << res.header("Allow"));
}

BOOST_AUTO_TEST_CASE(wrong_method_on_active_projects_is_405_with_allow) {
    const auto res =
        api().request(verb::delete_, "/api/provider/projects/active", {{"x-api-key", std::string(key_a)}});
    expect_answer(res, 405, "Method not allowed");
    BOOST_TEST(res.header("Allow").find("GET") != std::string::npos, "Allow: " << res.header("Allow"));
}

BOOST_AUTO_TEST_CASE(wrong_method_on_mapping_fields_is_405_with_allow) {
    const auto res =
        api().request(verb::post, "/api/provider/projects/" + std::string(project_a1) + "/mapping-fields",
                      {{"x-api-key", std::string(key_a)}, {"Content-Type", "application/json"}}, "{}");
    expect_answer(res, 405, "Method not allowed");
    BOOST_TEST(res.header("Allow").find("GET") != std::string::npos, "Allow: " << res.header("Allow"));
}

BOOST_AUTO_TEST_CASE(error_cases_committed_nothing) {
    expect_suite_committed_nothing();
}

// Not an error case: it commits a job, so it runs after the no-write check above.
BOOST_AUTO_TEST_CASE(keep_alive_serves_many_requests_on_one_connection) {
    const auto& server = jobsd_server::current().process();
    http_client client(server.host(), server.port());
    BOOST_TEST(client.get("/healthz").status == 200u);
    BOOST_TEST(client.get("/api/provider/projects/active", key_a).status == 200u);
    const auto created = client.post("/jobs/v2", key_a, json::serialize(valid_job()));
    BOOST_TEST_REQUIRE(created.status == 201u, created.body);
    const auto uuid = str(created.json().at("job"), "uuid");
    BOOST_TEST(client.get("/jobs/" + uuid, key_a).status == 200u);
    BOOST_TEST(client.get("/jobs/" + std::string(unknown_uuid), key_a).status == 404u);
    BOOST_TEST(client.post("/jobs/v2", key_a, "{bad json").status == 400u);
    BOOST_TEST(client.get("/api/provider/projects/active").status == 401u);
    BOOST_TEST(client.get("/no/such/route", key_a).status == 404u);
    BOOST_TEST(client.get("/metrics").status == 200u);
    BOOST_TEST(client.get("/jobs/" + uuid, key_a).status == 200u);
    BOOST_TEST(client.connections_opened() == 1u, "the server closed the connection between requests");
    BOOST_TEST(client.connected());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(body_errors, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(malformed_json_is_400) {
    expect_answer(post_text_rejected(key_a, R"({"job_type": "ai_talking_video", )"), 400,
                  "Malformed JSON body");
}

BOOST_AUTO_TEST_CASE(trailing_garbage_is_malformed_json) {
    expect_answer(post_text_rejected(key_a, json::serialize(valid_job()) + " }"), 400, "Malformed JSON body");
}

BOOST_AUTO_TEST_CASE(empty_body_is_malformed_json) {
    expect_answer(post_text_rejected(key_a, ""), 400, "Malformed JSON body");
}

BOOST_AUTO_TEST_CASE(array_body_is_400) {
    expect_answer(post_text_rejected(key_a, R"([{"job_type":"video"}])"), 400,
                  "Request body must be a JSON object");
}

BOOST_AUTO_TEST_CASE(string_body_is_400) {
    expect_answer(post_text_rejected(key_a, R"("ai_talking_video")"), 400,
                  "Request body must be a JSON object");
}

BOOST_AUTO_TEST_CASE(null_body_is_400) {
    expect_answer(post_text_rejected(key_a, "null"), 400, "Request body must be a JSON object");
}

BOOST_AUTO_TEST_CASE(body_over_limit_is_413) {
    // Valid JSON, so only its size is wrong; body_limit in jobsd_test.json is 65536.
    auto body = valid_job();
    body["padding"] = std::string(70 * 1024, 'x');
    // Its own connection: the server may close it without reading the rest of the body.
    const auto& server = jobsd_server::current().process();
    http_client client(server.host(), server.port());
    const double before = committed();
    const auto res = client.post("/jobs/v2", key_a, json::serialize(body));
    expect_answer(res, 413, "Request body too large");
    BOOST_TEST(committed() == before);
    BOOST_TEST(api().get("/healthz").status == 200u, "server unhealthy after a 413");
}

BOOST_AUTO_TEST_CASE(text_plain_is_415) {
    expect_answer(post_text_rejected(key_a, json::serialize(valid_job()), "text/plain"), 415,
                  "Content-Type must be application/json");
}

BOOST_AUTO_TEST_CASE(form_content_type_is_415) {
    expect_answer(post_text_rejected(key_a, "job_type=video", "application/x-www-form-urlencoded"), 415,
                  "Content-Type must be application/json");
}

BOOST_AUTO_TEST_CASE(missing_content_type_is_415) {
    expect_answer(post_text_rejected(key_a, json::serialize(valid_job()), ""), 415,
                  "Content-Type must be application/json");
}

BOOST_AUTO_TEST_CASE(error_cases_committed_nothing) {
    expect_suite_committed_nothing();
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(field_errors, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(job_type_missing) {
    auto body = valid_job();
    body.erase("job_type");
    expect_field_rejected(body, "job_type");
}

BOOST_AUTO_TEST_CASE(job_type_not_a_string) {
    auto body = valid_job();
    body["job_type"] = 42;
    expect_field_rejected(body, "job_type");
}

BOOST_AUTO_TEST_CASE(job_type_unknown) {
    auto body = valid_job();
    body["job_type"] = "hologram";
    expect_field_rejected(body, "job_type");
}

BOOST_AUTO_TEST_CASE(template_id_not_a_string) {
    auto body = valid_job();
    body["template_id"] = 42;
    expect_field_rejected(body, "template_id");
}

BOOST_AUTO_TEST_CASE(project_id_not_a_string) {
    auto body = valid_job();
    body["project_id"] = true;
    expect_field_rejected(body, "project_id");
}

BOOST_AUTO_TEST_CASE(session_id_not_a_string) {
    auto body = valid_job();
    body["session_id"] = 12345;
    expect_field_rejected(body, "session_id");
}

BOOST_AUTO_TEST_CASE(values_not_an_object) {
    auto body = valid_job();
    body["values"] = "headline=Spring sale";
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(values_an_array) {
    auto body = valid_job();
    body["values"] = json::array{"Spring sale"};
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(values_entry_a_number) {
    auto body = valid_job();
    body["values"] = json::object{{"headline", 7}};
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(values_entry_an_array) {
    auto body = valid_job();
    body["values"] = json::object{{"headline", json::array{"a", "b"}}};
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(values_entry_a_bool) {
    auto body = valid_job();
    body["values"] = json::object{{"headline", false}};
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(asset_image_url_not_a_string) {
    auto body = valid_job();
    body["values"] = json::object{{"avatar", json::object{{"image_url", 42}}}};
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(asset_audio_url_not_a_string) {
    auto body = valid_job();
    body["values"] =
        json::object{{"voiceover", json::object{{"audio_url", json::array{}}, {"effects", json::array{}}}}};
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(asset_effects_not_an_array) {
    auto body = valid_job();
    body["values"] = json::object{
        {"voiceover", json::object{{"audio_url", "https://cdn.example.com/vo.mp3"}, {"effects", "echo"}}}};
    expect_field_rejected(body, "values");
}

BOOST_AUTO_TEST_CASE(version_not_a_number) {
    auto body = valid_job();
    body["version"] = "2";
    expect_field_rejected(body, "version");
}

BOOST_AUTO_TEST_CASE(background_music_neither_string_nor_null) {
    auto body = valid_job();
    body["background_music"] = 42;
    expect_field_rejected(body, "background_music");
}

BOOST_AUTO_TEST_CASE(background_volume_below_zero) {
    auto body = valid_job();
    body["background_volume"] = -0.01;
    expect_field_rejected(body, "background_volume");
}

BOOST_AUTO_TEST_CASE(background_volume_above_one) {
    auto body = valid_job();
    body["background_volume"] = 1.01;
    expect_field_rejected(body, "background_volume");
}

BOOST_AUTO_TEST_CASE(background_volume_not_a_number) {
    auto body = valid_job();
    body["background_volume"] = "0.5";
    expect_field_rejected(body, "background_volume");
}

BOOST_AUTO_TEST_CASE(background_start_negative) {
    auto body = valid_job();
    body["background_start"] = -1;
    expect_field_rejected(body, "background_start");
}

BOOST_AUTO_TEST_CASE(background_start_not_a_number) {
    auto body = valid_job();
    body["background_start"] = "10";
    expect_field_rejected(body, "background_start");
}

BOOST_AUTO_TEST_CASE(error_cases_committed_nothing) {
    expect_suite_committed_nothing();
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(resolution_errors, *utf::fixture<jobsd_server>())

void expect_project_not_found(const json::object& body, std::string_view key = key_a) {
    expect_answer(post_rejected(key, body), 400, "Project not found");
}

void expect_not_active(const json::object& body) {
    expect_answer(post_rejected(key_a, body), 400, "Project is not active");
}

BOOST_AUTO_TEST_CASE(neither_template_nor_project) {
    auto body = valid_job();
    body.erase("template_id");
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(unknown_template_id) {
    auto body = valid_job();
    body["template_id"] = unknown_uuid;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(unknown_project_id) {
    auto body = valid_job();
    body.erase("template_id");
    body["project_id"] = unknown_uuid;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(other_accounts_template_id) {
    auto body = valid_job();
    body["template_id"] = project_b1;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(other_accounts_project_id) {
    auto body = valid_job();
    body.erase("template_id");
    body["project_id"] = project_b1;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(foreign_template_id_is_not_rescued_by_a_valid_project_id) {
    auto body = valid_job();
    body["template_id"] = project_b1;
    body["project_id"] = project_a1;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(unknown_template_id_does_not_fall_back_to_project_id) {
    auto body = valid_job();
    body["template_id"] = unknown_uuid;
    body["project_id"] = project_a1;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(image_prompt_is_not_a_template) {
    auto body = valid_job();
    body["job_type"] = "ai_image_generation";
    body["template_id"] = prompt_a;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(project_id_is_a_prompt_only_for_ai_image_generation) {
    auto body = valid_job();
    body["job_type"] = "image";
    body.erase("template_id");
    body["project_id"] = prompt_a;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(ai_image_generation_project_id_must_name_a_prompt) {
    auto body = valid_job();
    body["job_type"] = "ai_image_generation";
    body.erase("template_id");
    body["project_id"] = project_a1;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(other_accounts_image_prompt) {
    auto body = valid_job();
    body["job_type"] = "ai_image_generation";
    body.erase("template_id");
    body["project_id"] = prompt_b;
    expect_project_not_found(body);
}

BOOST_AUTO_TEST_CASE(expired_project_is_not_active) {
    auto body = valid_job();
    body["template_id"] = project_a_expired;
    expect_not_active(body);
}

BOOST_AUTO_TEST_CASE(future_project_is_not_active) {
    auto body = valid_job();
    body["template_id"] = project_a_future;
    expect_not_active(body);
}

BOOST_AUTO_TEST_CASE(expired_project_by_project_id_is_not_active) {
    auto body = valid_job();
    body["job_type"] = "video";
    body.erase("template_id");
    body["project_id"] = project_a_expired;
    expect_not_active(body);
}

BOOST_AUTO_TEST_CASE(inactive_template_wins_over_active_project_id) {
    auto body = valid_job();
    body["template_id"] = project_a_expired;
    body["project_id"] = project_a1;
    expect_not_active(body);
}

BOOST_AUTO_TEST_CASE(error_cases_committed_nothing) {
    expect_suite_committed_nothing();
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(accepted_jobs, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(example_request_is_created_and_read_back_whole) {
    // The request shape of the hosted API's example, plus a member the server does not know,
    // which must be kept in the stored input as well.
    const auto sent = json::parse(R"({
        "template_id": "468ea7a0-66e1-4357-a760-236e54167f3e",
        "job_type": "ai_talking_video",
        "version": 2,
        "session_id": "studio-session-7c1f",
        "values": {
            "headline": "Spring sale: 30% off",
            "voiceover": {"audio_url": "https://cdn.example.com/audio/vo-1.mp3", "effects": []},
            "avatar": {"image_url": "https://cdn.example.com/img/avatar-3.png"}
        },
        "background_music": "https://cdn.example.com/audio/bed.mp3",
        "background_volume": 0.35,
        "background_start": 1.5,
        "client_meta": {"campaign": "spring", "tags": ["a", "b"], "retries": 0, "nested": {"x": null}}
    })");
    const double before = committed();
    const auto job = expect_created(key_a, sent);
    BOOST_TEST_REQUIRE(!job.empty());
    BOOST_TEST(str(job, "template_id") == project_a1);
    BOOST_TEST(committed() == before + 1);

    const auto uuid = str(job, "uuid");
    const auto res = api().get("/jobs/" + uuid, key_a);
    BOOST_TEST_REQUIRE(res.status == 200u, res.body);
    expect_json_content_type(res);
    const auto got = res.json();
    BOOST_TEST(str(got, "uuid") == uuid);
    BOOST_TEST(str(got, "user_id") == account_a);
    BOOST_TEST(str(got, "template_id") == project_a1);
    BOOST_TEST(str(got, "job_type") == "ai_talking_video");
    BOOST_TEST(str(got, "job_status") == "QUEUED");
    BOOST_TEST(got.at("input") == sent);
    BOOST_TEST(got.at("values") == sent.at("values"));
    BOOST_TEST(got.at("output").is_null());
    BOOST_TEST(std::regex_match(str(got, "created_at"), iso_time_re), str(got, "created_at"));
    BOOST_TEST(std::regex_match(str(got, "updated_at"), iso_time_re), str(got, "updated_at"));
}

BOOST_AUTO_TEST_CASE(job_without_values_reads_back_empty_values) {
    auto body = valid_job();
    body.erase("values");
    const auto job = expect_created(key_a, body);
    BOOST_TEST_REQUIRE(!job.empty());
    const auto res = api().get("/jobs/" + str(job, "uuid"), key_a);
    BOOST_TEST_REQUIRE(res.status == 200u, res.body);
    BOOST_TEST(res.json().at("values") == json::object{});
    BOOST_TEST(res.json().at("input") == json::value(body));
}

// `values` reads back as the client wrote it, like `input`: numbers keep their spelling (a parse
// would give 4E-1 and round an integer past 2^64 to a double), spacing included.
BOOST_AUTO_TEST_CASE(values_read_back_as_written) {
    const std::string values =
        R"({ "vo": {"audio_url": "https://cdn.example/v.mp3", "effects": [{"gain": 0.4, "seed": 123456789012345678901}]} })";
    const std::string body = R"({"job_type":"ai_talking_video","template_id":")" + std::string(project_a1) +
                             R"(","values":)" + values + "}";
    const auto created = api().post("/jobs/v2", key_a, body);
    BOOST_TEST_REQUIRE(created.status == 201u, created.body);
    const auto res = api().get("/jobs/" + str(created.json().at("job"), "uuid"), key_a);
    BOOST_TEST_REQUIRE(res.status == 200u, res.body);
    BOOST_TEST(res.body.find(R"("values":)" + values) != std::string::npos, res.body);
    BOOST_TEST(res.body.find("4E-1") == std::string::npos, res.body);
}

BOOST_AUTO_TEST_CASE(every_job_type_is_accepted) {
    for (const char* type :
         {"ai_talking_video", "video", "tts", "image", "photo_qc", "pdf", "ai_image_generation"}) {
        BOOST_TEST_CONTEXT("job_type " << type) {
            auto body = valid_job();
            body["job_type"] = type;
            const auto job = expect_created(key_a, body);
            BOOST_TEST(str(job, "template_id") == project_a1);
        }
    }
}

BOOST_AUTO_TEST_CASE(json_content_type_with_charset_is_accepted) {
    const auto res =
        api().post("/jobs/v2", key_a, json::serialize(valid_job()), "application/json; charset=utf-8");
    BOOST_TEST(res.status == 201u, res.body);
}

BOOST_AUTO_TEST_CASE(background_volume_zero_and_one_are_accepted) {
    for (double volume : {0.0, 1.0}) {
        BOOST_TEST_CONTEXT("background_volume " << volume) {
            auto body = valid_job();
            body["background_volume"] = volume;
            expect_created(key_a, body);
        }
    }
    auto body = valid_job();
    body["background_volume"] = 1;  // an integer is a number too
    expect_created(key_a, body);
}

BOOST_AUTO_TEST_CASE(background_start_zero_is_accepted) {
    auto body = valid_job();
    body["background_start"] = 0;
    expect_created(key_a, body);
}

BOOST_AUTO_TEST_CASE(background_music_null_is_accepted) {
    auto body = valid_job();
    body["background_music"] = nullptr;
    expect_created(key_a, body);
}

BOOST_AUTO_TEST_CASE(template_id_is_resolved_before_project_id) {
    auto body = valid_job();
    body["template_id"] = project_a1;
    body["project_id"] = project_a2;
    BOOST_TEST(str(expect_created(key_a, body), "template_id") == project_a1);
    body["template_id"] = project_a2;
    body["project_id"] = project_a1;
    BOOST_TEST(str(expect_created(key_a, body), "template_id") == project_a2);
}

BOOST_AUTO_TEST_CASE(empty_template_id_falls_back_to_project_id) {
    auto body = valid_job();
    body["job_type"] = "video";
    body["template_id"] = "";
    body["project_id"] = project_a2;
    BOOST_TEST(str(expect_created(key_a, body), "template_id") == project_a2);
}

BOOST_AUTO_TEST_CASE(project_id_alone_resolves_a_project) {
    auto body = valid_job();
    body["job_type"] = "video";
    body.erase("template_id");
    body["project_id"] = project_a2;
    BOOST_TEST(str(expect_created(key_a, body), "template_id") == project_a2);
}

BOOST_AUTO_TEST_CASE(project_inside_its_dates_is_accepted) {
    auto body = valid_job();
    body["job_type"] = "tts";
    body["template_id"] = project_a_bounded;
    BOOST_TEST(str(expect_created(key_a, body), "template_id") == project_a_bounded);
}

BOOST_AUTO_TEST_CASE(ai_image_generation_resolves_an_image_prompt) {
    const json::object body{{"job_type", "ai_image_generation"},
                            {"project_id", prompt_a},
                            {"session_id", "sess-image"},
                            {"values", json::object{{"product", "Blue sneaker"}}}};
    const auto job = expect_created(key_a, body);
    BOOST_TEST_REQUIRE(!job.empty());
    BOOST_TEST(str(job, "template_id") == prompt_a);
    const auto res = api().get("/jobs/" + str(job, "uuid"), key_a);
    BOOST_TEST_REQUIRE(res.status == 200u, res.body);
    BOOST_TEST(str(res.json(), "template_id") == prompt_a);
    BOOST_TEST(str(res.json(), "job_type") == "ai_image_generation");
    BOOST_TEST(res.json().at("input") == json::value(body));
}

BOOST_AUTO_TEST_CASE(ai_image_generation_template_id_names_a_project) {
    auto body = valid_job();
    body["job_type"] = "ai_image_generation";
    BOOST_TEST(str(expect_created(key_a, body), "template_id") == project_a1);
}

BOOST_AUTO_TEST_CASE(each_job_gets_its_own_uuid) {
    std::set<std::string> uuids;
    for (int i = 0; i < 10; ++i) uuids.insert(str(expect_created(key_a, valid_job()), "uuid"));
    BOOST_TEST(uuids.size() == 10u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(reads, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(unknown_job_is_404) {
    expect_answer(api().get("/jobs/" + std::string(unknown_uuid), key_a), 404, "Job not found");
}

BOOST_AUTO_TEST_CASE(malformed_job_id_is_404) {
    expect_answer(api().get("/jobs/not-a-uuid", key_a), 404, "Job not found");
}

BOOST_AUTO_TEST_CASE(active_projects_are_the_current_ones_of_the_account) {
    const auto res = api().get("/api/provider/projects/active", key_a);
    BOOST_TEST_REQUIRE(res.status == 200u, res.body);
    expect_json_content_type(res);
    const auto answer = res.json();
    BOOST_TEST(str(answer, "message") == "Success");
    const std::set<std::string> expected{std::string(project_a1), std::string(project_a2),
                                         std::string(project_a_bounded)};
    BOOST_TEST(project_ids(res) == expected, "got " << res.body);

    const auto& list = answer.at("data").as_array();
    if (const auto* a1 = find_project(list, project_a1)) {
        BOOST_TEST(str(*a1, "projectName") == "Spring launch talking head");
        BOOST_TEST(str(*a1, "projectType") == "ai_talking_video");
        BOOST_TEST(a1->at("startDate").is_null());
        BOOST_TEST(a1->at("endDate").is_null());
    }
    if (const auto* a2 = find_project(list, project_a2)) {
        BOOST_TEST(str(*a2, "projectName") == "",
                   "an unnamed project lists as \"\": " << json::serialize(*a2));
        BOOST_TEST(str(*a2, "projectType") == "video");
    }
    if (const auto* bounded = find_project(list, project_a_bounded)) {
        const auto start = str(*bounded, "startDate");
        const auto end = str(*bounded, "endDate");
        BOOST_TEST(start.starts_with("2020-01-01T00:00:00"), start);
        BOOST_TEST(end.starts_with("2098-12-31T23:59:59"), end);
        BOOST_TEST(std::regex_match(start, iso_time_re), start);
        BOOST_TEST(std::regex_match(end, iso_time_re), end);
    }
}

BOOST_AUTO_TEST_CASE(mapping_fields_are_the_seeded_ones) {
    const auto res =
        api().get("/api/provider/projects/" + std::string(project_a1) + "/mapping-fields", key_a);
    BOOST_TEST_REQUIRE(res.status == 200u, res.body);
    expect_json_content_type(res);
    const auto answer = res.json();
    BOOST_TEST(str(answer, "message") == "Success");
    const auto& data = answer.at("data");
    const auto seeded = seed_project(project_a1);
    BOOST_TEST(str(data, "projectId") == project_a1);
    BOOST_TEST(str(data, "projectName") == std::string(seeded.at("name").as_string()));
    BOOST_TEST(str(data, "projectType") == "ai_talking_video");
    BOOST_TEST(data.at("fields") == seeded.at("mapping_fields"));
    BOOST_TEST(std::regex_match(str(data, "fetchedAt"), iso_time_re), str(data, "fetchedAt"));
}

BOOST_AUTO_TEST_CASE(mapping_fields_of_an_unnamed_project) {
    const auto res =
        api().get("/api/provider/projects/" + std::string(project_a2) + "/mapping-fields", key_a);
    BOOST_TEST_REQUIRE(res.status == 200u, res.body);
    const auto answer = res.json();
    const auto& data = answer.at("data");
    BOOST_TEST(str(data, "projectName") == "");
    BOOST_TEST(data.at("fields") == seed_project(project_a2).at("mapping_fields"));
}

BOOST_AUTO_TEST_CASE(mapping_fields_of_an_unknown_project_is_404) {
    expect_answer(api().get("/api/provider/projects/" + std::string(unknown_uuid) + "/mapping-fields", key_a),
                  404, "Project not found");
}

BOOST_AUTO_TEST_CASE(error_cases_committed_nothing) {
    expect_suite_committed_nothing();
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(account_isolation, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(other_account_cannot_read_a_job) {
    const auto job = expect_created(key_a, valid_job());
    BOOST_TEST_REQUIRE(!job.empty());
    const auto target = "/jobs/" + str(job, "uuid");
    expect_answer(api().get(target, key_b), 404, "Job not found");
    BOOST_TEST(api().get(target, key_a).status == 200u);
}

BOOST_AUTO_TEST_CASE(other_account_cannot_read_mapping_fields) {
    expect_answer(api().get("/api/provider/projects/" + std::string(project_a1) + "/mapping-fields", key_b),
                  404, "Project not found");
    expect_answer(api().get("/api/provider/projects/" + std::string(project_b1) + "/mapping-fields", key_a),
                  404, "Project not found");
    BOOST_TEST(
        api().get("/api/provider/projects/" + std::string(project_b1) + "/mapping-fields", key_b).status ==
        200u);
}

BOOST_AUTO_TEST_CASE(active_projects_are_per_account) {
    const auto a = api().get("/api/provider/projects/active", key_a);
    const auto b = api().get("/api/provider/projects/active", key_b);
    BOOST_TEST_REQUIRE(a.status == 200u, a.body);
    BOOST_TEST_REQUIRE(b.status == 200u, b.body);
    BOOST_TEST(project_ids(a).count(std::string(project_b1)) == 0u, a.body);
    BOOST_TEST(project_ids(b) == std::set<std::string>{std::string(project_b1)}, b.body);
}

BOOST_AUTO_TEST_CASE(other_account_cannot_post_to_a_project) {
    expect_answer(post_rejected(key_b, valid_job()), 400, "Project not found");
}

BOOST_AUTO_TEST_CASE(other_account_cannot_use_an_image_prompt) {
    const json::object body{{"job_type", "ai_image_generation"}, {"project_id", prompt_a}};
    expect_answer(post_rejected(key_b, body), 400, "Project not found");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(group_commit, *utf::fixture<jobsd_server>())

BOOST_AUTO_TEST_CASE(concurrent_jobs_are_all_committed) {
    constexpr int clients = 64;
    constexpr int jobs_per_client = 40;
    constexpr int total = clients * jobs_per_client;
    const auto& server = jobsd_server::current().process();
    const double jobs_before = committed();
    const double transactions_before = metric(api(), transactions_metric);

    std::mutex mutex;
    std::vector<std::string> failures;  // guarded by mutex
    std::set<std::string> uuids;        // guarded by mutex
    std::size_t connections = 0;        // guarded by mutex
    std::latch ready(clients);
    std::vector<std::thread> threads;
    const std::string body = json::serialize(valid_job());
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&] {
            http_client client(server.host(), server.port());
            std::vector<std::string> mine;
            std::vector<std::string> errors;
            ready.arrive_and_wait();
            for (int j = 0; j < jobs_per_client; ++j) {
                try {
                    const auto res = client.post("/jobs/v2", key_a, body);
                    if (res.status == 201) {
                        mine.push_back(str(res.json().at("job"), "uuid"));
                    } else {
                        errors.push_back(std::to_string(res.status) + " " + res.body);
                    }
                } catch (const std::exception& e) {
                    errors.push_back(e.what());
                }
            }
            std::lock_guard lock(mutex);
            uuids.insert(mine.begin(), mine.end());
            failures.insert(failures.end(), errors.begin(), errors.end());
            connections += client.connections_opened();
        });
    }
    for (auto& t : threads) t.join();

    BOOST_TEST(failures.empty(),
               failures.size() << " failed requests, first: " << (failures.empty() ? "" : failures.front()));
    BOOST_TEST(uuids.size() == static_cast<std::size_t>(total), "distinct uuids answered 201");
    BOOST_TEST_MESSAGE(clients << " clients used " << connections << " connections");

    const double jobs = committed() - jobs_before;
    const double transactions = metric(api(), transactions_metric) - transactions_before;
    // How many jobs share a transaction here depends on the machine; jobs-bench measures it.
    BOOST_TEST_MESSAGE(jobs << " jobs committed in " << transactions << " transactions");
    BOOST_TEST(jobs == static_cast<double>(total));
    BOOST_TEST(transactions >= 1);
}

// Group commit made visible: while the test holds SQLite's write lock, jobsd's writer waits with
// the first request(s) and the others queue behind it; released, the queued ones are committed
// together, so 2 transactions serve them all, each answered 201 only then.
BOOST_AUTO_TEST_CASE(requests_queued_together_share_one_transaction) {
    auto& server = jobsd_server::current();
    const double jobs_before = committed();
    const double transactions_before = metric(api(), transactions_metric);
    const std::string body = json::serialize(valid_job());
    auto post = [host = server.process().host(), port = server.process().port(), body] {
        http_client c(host, port);
        return c.post("/jobs/v2", key_a, body);
    };
    jobsd::test::request_threads held;
    {
        jobsd::test::sqlite_write_lock lock(jobsd::test::test_db(server.dir()));
        jobsd::test::post_until_queued(held, post, api(), 3, std::chrono::seconds(4));
        BOOST_TEST(held.ended() == 0u, "a request was answered while its commit could not happen");
    }
    std::set<std::string> uuids;
    for (const auto& o : held.join()) {
        BOOST_TEST(o.status == 201u, o.status << " " << o.body << o.error);
        if (o.status == 201) uuids.insert(str(json::parse(o.body).at("job"), "uuid"));
    }
    BOOST_TEST(uuids.size() == held.started());
    BOOST_TEST(committed() - jobs_before == static_cast<double>(held.started()));
    BOOST_TEST(metric(api(), transactions_metric) - transactions_before == 2.0,
               "the held batch, then everything queued behind it");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(sigterm_stops_cleanly_and_jobs_survive_a_restart) {
    temp_dir dir;
    std::string uuid;
    {
        auto started = jobsd::test::start_test_jobsd(dir);
        jobsd_process& server = *started;
        http_client client(server.host(), server.port());
        const auto res = client.post("/jobs/v2", key_a, json::serialize(valid_job()));
        BOOST_TEST_REQUIRE(res.status == 201u, res.body);
        uuid = str(res.json().at("job"), "uuid");
        client.close();
        const auto info = server.stop();
        BOOST_TEST(info.exited,
                   "jobsd ended by signal " << info.signal << (info.forced ? " (SIGTERM ignored)" : ""));
        BOOST_TEST(info.code == 0, "exit code " << info.code << "; stderr:\n" << server.stderr_text());
    }
    auto restarted = jobsd::test::start_test_jobsd(dir);
    jobsd_process& again = *restarted;
    http_client client(again.host(), again.port());
    const auto res = client.get("/jobs/" + uuid, key_a);
    BOOST_TEST(res.status == 200u, res.body);
    BOOST_TEST(str(res.json(), "uuid") == uuid);
    client.close();
    again.stop();
}

BOOST_AUTO_TEST_SUITE_END()

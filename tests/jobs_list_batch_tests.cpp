// GET /jobs/v2 and POST /jobs/v2/batch against a real jobsd, on SQLite and on PostgreSQL alike:
// filters alone and combined, pages over a growing table, isolation between accounts, bad
// filters and cursors; batch limits, all-or-none with mixed items, idempotent replay, strict
// values, and a kill -9 in the middle of batches leaving each batch whole or absent.
#define BOOST_TEST_MODULE jobs_list_batch
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>
#include <boost/mpl/list.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/jobsd_process.hpp"
#include "tests/support/pg_test_schema.hpp"
#include "tests/support/sse_client.hpp"

namespace json = boost::json;
namespace http = boost::beast::http;
using namespace jobsd::test;
using namespace std::chrono_literals;

namespace {

// From tests/data/seed_test.json.
const std::string key_a = "key-a-5d1c8e7f2b9a4c6e";
const std::string key_b = "key-b-9e4a2f6c1d7b3e8a";
const std::string key_c = "key-c-3b7e1a9d5f2c8e4b";
const std::string project_a1 = "468ea7a0-66e1-4357-a760-236e54167f3e";         // ai_talking_video
const std::string project_a_bounded = "c0485a29-e456-4218-90ac-80d50b4220ac";  // tts
const std::string project_b1 = "e3a90df2-f2cc-4494-bdba-0b85651452a1";
const std::string project_c_strict = "7d1e5c3a-9b2f-4e8d-a6c4-1f3b5d7e9a2c";

// Runs SQL on the store a jobsd uses, from the test's side: a status moved by hand (no worker
// runs here), or the jobs of each batch counted after a crash.
struct sqlite_backend {
    static constexpr const char* name = "sqlite";
    temp_dir dir{"jobsd-listbatch"};
    std::string url() const { return "sqlite:" + (dir.path() / "jobs.db").string(); }
    std::vector<std::vector<std::string>> query(const std::string& sql) const {
        sqlite3* db = nullptr;
        if (sqlite3_open_v2((dir.path() / "jobs.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
            SQLITE_OK)
            throw std::runtime_error("cannot open the SQLite file");
        std::unique_ptr<sqlite3, decltype(&sqlite3_close)> guard(db, &sqlite3_close);
        sqlite3_busy_timeout(db, 10000);
        std::vector<std::vector<std::string>> rows;
        char* err = nullptr;
        auto cb = [](void* out, int n, char** values, char**) {
            auto& r = *static_cast<std::vector<std::vector<std::string>>*>(out);
            r.emplace_back();
            for (int i = 0; i < n; ++i) r.back().emplace_back(values[i] ? values[i] : "");
            return 0;
        };
        if (sqlite3_exec(db, sql.c_str(), cb, &rows, &err) != SQLITE_OK) {
            std::string msg = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error(msg + " in " + sql);
        }
        return rows;
    }
};

struct pg_backend {
    static constexpr const char* name = "postgres";
    pg_test_schema schema;
    std::string url() const { return schema.url(); }
    std::vector<std::vector<std::string>> query(const std::string& sql) {
        // pg_test_schema returns one value: aggregate in SQL instead.
        return {{schema.exec(sql)}};
    }
};

using backends = boost::mpl::list<sqlite_backend, pg_backend>;

template <class Backend>
struct server : Backend {
    temp_dir work{"jobsd-listbatch-run"};
    std::unique_ptr<jobsd_process> jobsd;

    explicit server(std::vector<std::pair<std::string, std::string>> env = {}) { start(std::move(env)); }
    void start(std::vector<std::pair<std::string, std::string>> env = {}) {
        env.emplace_back("JOBSD_SERVER_BATCH_BODY_LIMIT", "262144");
        for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
        const std::string data = required_env("JOBSD_TEST_DATA");
        jobsd = std::make_unique<jobsd_process>(
            required_env("JOBSD_BIN"),
            std::vector<std::string>{"--config", data + "/jobsd_test.json", "--store", this->url(), "--seed",
                                     data + "/seed_test.json"},
            work.path());
        for (const auto& [k, v] : env) ::unsetenv(k.c_str());
    }
    http_client client() { return http_client(jobsd->host(), jobsd->port()); }
};

json::object job(const std::string& type, const std::string& template_id, const std::string& session) {
    return {{"job_type", type}, {"template_id", template_id}, {"session_id", session}, {"version", 2}};
}

std::string batch_of(const std::vector<json::object>& jobs) {
    json::array a;
    for (const auto& j : jobs) a.push_back(j);
    return json::serialize(json::object{{"jobs", a}});
}

http_response post_batch(http_client& c, const std::string& key, const std::string& body,
                         const std::string& idem = "") {
    header_list h{{"x-api-key", key}, {"Content-Type", "application/json"}};
    if (!idem.empty()) h.emplace_back("Idempotency-Key", idem);
    return c.request(http::verb::post, "/jobs/v2/batch", h, body);
}

std::string create(http_client& c, const std::string& key, const json::object& body) {
    const auto r = c.post("/jobs/v2", key, json::serialize(body));
    BOOST_TEST_REQUIRE(r.status == 201u, r.body);
    return std::string(r.json().at("job").at("uuid").as_string());
}

// Every uuid of the list for `query`, following next links; the pages' sizes in `pages`.
std::vector<std::string> list_all(http_client& c, const std::string& key, const std::string& query,
                                  std::vector<std::size_t>* pages = nullptr) {
    std::vector<std::string> out;
    std::string target = "/jobs/v2" + query;
    for (int guard = 0; guard < 1000; ++guard) {
        const auto r = c.get(target, key);
        BOOST_TEST_REQUIRE(r.status == 200u, target << ": " << r.body);
        const auto body = r.json().as_object();
        for (const auto& j : body.at("data").as_array()) out.emplace_back(j.at("uuid").as_string());
        if (pages) pages->push_back(body.at("data").as_array().size());
        if (body.at("next").is_null()) {
            BOOST_TEST(r.header("Link").empty());
            return out;
        }
        target = std::string(body.at("next").as_string());
        BOOST_TEST(r.header("Link") == "<" + target + ">; rel=\"next\"");
    }
    BOOST_FAIL("more than 1000 pages");
    return out;
}

std::set<std::string> as_set(const std::vector<std::string>& v) {
    return {v.begin(), v.end()};
}

// The field named by a 400's first error.
std::string bad_field(const http_response& r) {
    if (r.status != 400u) return "status " + std::to_string(r.status);
    return std::string(r.json().at("errors").at(0).at("field").as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(list)

BOOST_AUTO_TEST_CASE_TEMPLATE(filters_alone_and_combined, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    const auto t1 = create(c, key_a, job("ai_talking_video", project_a1, "s1"));
    const auto t2 = create(c, key_a, job("ai_talking_video", project_a1, "s2"));
    std::this_thread::sleep_for(20ms);  // created_before/after need distinct times
    const auto tts1 = create(c, key_a, job("tts", project_a_bounded, "s1"));
    const auto tts2 = create(c, key_a, job("tts", project_a_bounded, "s2"));
    const auto img = create(c, key_a,
                            {{"job_type", "ai_image_generation"},
                             {"project_id", "f12f3401-0fd6-4a30-82d1-b85a8db70e5b"},
                             {"session_id", "s1"}});
    s.query("UPDATE jobs SET job_status = 'FAILED' WHERE uuid = '" + t2 + "'");
    s.query("UPDATE jobs SET job_status = 'SUCCESS' WHERE uuid IN ('" + tts1 + "', '" + img + "')");
    const std::set<std::string> all{t1, t2, tts1, tts2, img};

    // Newest first: the last created comes first.
    const auto everything = list_all(c, key_a, "");
    BOOST_TEST(everything.size() == 5u);
    BOOST_TEST(everything.front() == img);
    BOOST_TEST(everything.back() == t1);
    const auto first = c.get("/jobs/v2?limit=1", key_a).json();
    BOOST_TEST(first.at("data").at(0).at("template_id").as_string() ==
               "f12f3401-0fd6-4a30-82d1-b85a8db70e5b");
    BOOST_TEST(first.at("data").at(0).at("job_status").as_string() == "SUCCESS");

    const std::string t2_created(c.get("/jobs/" + t2, key_a).json().at("created_at").as_string());
    const std::string tts1_created(c.get("/jobs/" + tts1, key_a).json().at("created_at").as_string());
    const std::map<std::string, std::set<std::string>> cases{
        {"?status=QUEUED", {t1, tts2}},
        {"?status=SUCCESS&status=FAILED", {t2, tts1, img}},
        {"?job_type=tts", {tts1, tts2}},
        {"?session_id=s1", {t1, tts1, img}},
        {"?template_id=" + project_a1, {t1, t2}},
        {"?project_id=" + project_a_bounded, {tts1, tts2}},
        {"?created_after=" + t2_created, {tts1, tts2, img}},
        {"?created_before=" + tts1_created, {t1, t2}},
        {"?session_id=s1&status=SUCCESS", {tts1, img}},
        {"?session_id=s2&job_type=tts&status=QUEUED", {tts2}},
        {"?template_id=" + project_a1 + "&status=FAILED&created_before=" + tts1_created, {t2}},
        {"?job_type=pdf", {}},
    };
    for (const auto& [query, expected] : cases) BOOST_TEST_CONTEXT(query) {
            BOOST_TEST(as_set(list_all(c, key_a, query)) == expected);
            // Small pages give the same jobs.
            std::vector<std::size_t> pages;
            BOOST_TEST(as_set(list_all(c, key_a, query + "&limit=1", &pages)) == expected);
            BOOST_TEST(pages.size() == std::max<std::size_t>(1, expected.size()));
        }
    BOOST_TEST(as_set(everything) == all);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(pages_over_a_growing_table_have_no_gaps_or_repeats, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    std::vector<std::string> before;
    std::vector<json::object> jobs(40, job("video", project_a1, "grow"));
    const auto r = post_batch(c, key_a, batch_of(jobs));
    BOOST_TEST_REQUIRE(r.status == 201u, r.body);
    for (int i = 0; i < 20; ++i) before.push_back(create(c, key_a, job("video", project_a1, "grow")));

    // Walk pages of 7 while new jobs keep arriving between pages.
    std::vector<std::string> seen;
    std::string target = "/jobs/v2?session_id=grow&limit=7";
    std::vector<std::string> added;
    for (int page = 0; page < 100; ++page) {
        const auto res = c.get(target, key_a);
        BOOST_TEST_REQUIRE(res.status == 200u, res.body);
        const auto body = res.json();
        for (const auto& j : body.at("data").as_array()) seen.emplace_back(j.at("uuid").as_string());
        added.push_back(create(c, key_a, job("video", project_a1, "grow")));
        if (body.at("next").is_null()) break;
        target = std::string(body.at("next").as_string());
        BOOST_TEST(target.find("session_id=grow") != std::string::npos, target);
    }
    BOOST_TEST(seen.size() == 60u);
    BOOST_TEST(as_set(seen).size() == seen.size(), "a job was listed twice");
    for (const auto& uuid : before) BOOST_TEST(as_set(seen).count(uuid) == 1u, uuid << " was skipped");
    for (const auto& uuid : added)
        BOOST_TEST(as_set(seen).count(uuid) == 0u, uuid << " arrived after the walk began");
    // A fresh walk sees everything, newest first.
    const auto again = list_all(c, key_a, "?session_id=grow&limit=1000");
    BOOST_TEST(again.size() == 60u + added.size());
    BOOST_TEST(again.front() == added.back());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(each_key_lists_its_own_jobs_only, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    const auto a = create(c, key_a, job("ai_talking_video", project_a1, "shared-session"));
    const auto b = create(c, key_b, job("ai_talking_video", project_b1, "shared-session"));
    BOOST_TEST(list_all(c, key_a, "?session_id=shared-session") == std::vector<std::string>{a});
    BOOST_TEST(list_all(c, key_b, "") == std::vector<std::string>{b});
    BOOST_TEST(list_all(c, key_b, "?template_id=" + project_a1).empty());
    BOOST_TEST(list_all(c, key_c, "").empty());
    BOOST_TEST(c.get("/jobs/v2", "").status == 401u);
    BOOST_TEST(c.get("/jobs/v2", "no-such-key").status == 401u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(bad_filters_and_cursors_name_the_parameter, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    for (int i = 0; i < 3; ++i) create(c, key_a, job("video", project_a1, "bad"));
    const auto page = c.get("/jobs/v2?limit=1", key_a).json();
    const std::string cursor(page.at("next_cursor").as_string());
    BOOST_TEST(c.get("/jobs/v2?limit=1&cursor=" + cursor, key_a).status == 200u);
    std::string flipped = cursor;
    flipped[flipped.size() / 2] = flipped[flipped.size() / 2] == 'A' ? 'B' : 'A';
    const std::map<std::string, std::string> cases{
        {"?cursor=" + flipped, "cursor"},
        {"?cursor=" + cursor + "x", "cursor"},
        {"?cursor=not-a-cursor!", "cursor"},
        {"?cursor=", "cursor"},
        {"?limit=0", "limit"},
        {"?limit=1001", "limit"},
        {"?limit=ten", "limit"},
        {"?limit=5&limit=6", "limit"},
        {"?status=DONE", "status"},
        {"?status=QUEUED&status=nope", "status"},
        {"?job_type=film", "job_type"},
        {"?created_after=yesterday", "created_after"},
        {"?created_before=2026-13-01", "created_before"},
        {"?session_id=", "session_id"},
        {"?template_id=" + project_a1 + "&project_id=" + project_a_bounded, "project_id"},
        {"?colour=red", "colour"},
    };
    for (const auto& [query, field] : cases) BOOST_TEST_CONTEXT(query) {
            const auto r = c.get("/jobs/v2" + query, key_a);
            BOOST_TEST(bad_field(r) == field, r.body);
            if (r.status == 400u) BOOST_TEST(r.json().at("message").as_string() == "Invalid query");
        }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(batch)

BOOST_AUTO_TEST_CASE_TEMPLATE(limits, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    std::vector<json::object> too_many(1001, job("video", project_a1, "limits"));
    auto r = post_batch(c, key_a, batch_of(too_many));
    BOOST_TEST(bad_field(r) == "jobs", r.body);
    BOOST_TEST(bad_field(post_batch(c, key_a, R"({"jobs":[]})")) == "jobs");
    BOOST_TEST(bad_field(post_batch(c, key_a, R"({"jobs":{}})")) == "jobs");
    BOOST_TEST(bad_field(post_batch(c, key_a, R"({"items":[]})")) == "items");
    BOOST_TEST(post_batch(c, key_a, R"([{"job_type":"video"}])").status == 400u);
    BOOST_TEST(post_batch(c, key_a, R"({"jobs":[)").status == 400u);
    BOOST_TEST(post_batch(c, "", batch_of({job("video", project_a1, "x")})).status == 401u);
    BOOST_TEST(c.request(http::verb::post, "/jobs/v2/batch",
                         {{"x-api-key", key_a}, {"Content-Type", "text/plain"}},
                         batch_of({job("video", project_a1, "x")}))
                   .status == 415u);

    // The batch route has its own body limit (262144 here), above the single job's (65536).
    json::object big = job("video", project_a1, "big");
    big["note"] = std::string(60000, 'x');
    r = post_batch(c, key_a, batch_of({big, big}));
    BOOST_TEST(r.status == 201u, r.body);
    BOOST_TEST(c.post("/jobs/v2", key_a, batch_of({big, big})).status == 413u);
    r = post_batch(c, key_a, batch_of({big, big, big, big, big}));
    BOOST_TEST(r.status == 413u, r.body);
    // Each job is held to the single job's limit, though the batch's would take it.
    json::object huge = job("video", project_a1, "huge");
    huge["note"] = std::string(70000, 'x');
    BOOST_TEST(c.post("/jobs/v2", key_a, json::serialize(huge)).status == 413u);
    r = post_batch(c, key_a, batch_of({big, huge}));
    BOOST_TEST_REQUIRE(r.status == 400u, r.body.substr(0, 300));
    const auto refused = r.json();
    BOOST_TEST_REQUIRE(refused.at("errors").as_array().size() == 1u);
    const auto& too_big = refused.at("errors").as_array()[0].as_object();
    BOOST_TEST(too_big.at("index").as_int64() == 1);
    BOOST_TEST(std::string(too_big.at("problem").as_string()).find("server.body_limit, 65536 bytes") !=
               std::string::npos);
    // 1000 jobs fit (the limit is inclusive), and land in order.
    std::vector<json::object> thousand;
    for (int i = 0; i < 1000; ++i) thousand.push_back(job("tts", project_a_bounded, "k" + std::to_string(i)));
    r = post_batch(c, key_a, batch_of(thousand));
    BOOST_TEST_REQUIRE(r.status == 201u, r.body.substr(0, 300));
    const auto created_body = r.json();
    const auto& created = created_body.at("jobs").as_array();
    BOOST_TEST_REQUIRE(created.size() == 1000u);
    const auto last = c.get("/jobs/" + std::string(created[999].at("uuid").as_string()), key_a).json();
    BOOST_TEST(last.at("input").at("session_id").as_string() == "k999");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(one_bad_job_refuses_the_batch_and_names_every_problem, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    json::object no_type{{"template_id", project_a1}};
    json::object bad_volume = job("video", project_a1, "mixed");
    bad_volume["background_volume"] = 3;
    const auto r =
        post_batch(c, key_a,
                   batch_of({job("video", project_a1, "mixed"), no_type, job("video", project_b1, "mixed"),
                             bad_volume, job("tts", project_a_bounded, "mixed")}));
    BOOST_TEST_REQUIRE(r.status == 400u, r.body);
    const auto body = r.json();
    BOOST_TEST(body.at("message").as_string() == "Invalid batch");
    std::set<std::string> seen;
    for (const auto& e : body.at("errors").as_array())
        seen.insert(std::to_string(e.at("index").as_int64()) + ":" + std::string(e.at("field").as_string()) +
                    ":" + std::string(e.at("problem").as_string()));
    const std::set<std::string> expected{"1:job_type:is required", "2:template_id:Project not found",
                                         "3:background_volume:must be between 0 and 1"};
    BOOST_TEST(seen == expected, r.body);
    BOOST_TEST(list_all(c, key_a, "").empty(), "a refused batch committed jobs");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_repeated_key_replays_the_batch, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    json::object odd = job("video", project_a1, "replay");
    odd["version"] = 2.5;
    odd["extra"] = json::object{{"nested", json::array{1, "two", nullptr}}};
    const auto body = batch_of({job("tts", project_a_bounded, "replay"), odd});
    const auto first = post_batch(c, key_a, body, "batch-key-1");
    BOOST_TEST_REQUIRE(first.status == 201u, first.body);
    BOOST_TEST(first.json().at("message").as_string() == "Jobs accepted and processing.");
    const auto first_body = first.json();
    const auto& jobs = first_body.at("jobs").as_array();
    BOOST_TEST_REQUIRE(jobs.size() == 2u);
    BOOST_TEST(jobs[0].at("job_type").as_string() == "tts");
    BOOST_TEST(jobs[1].at("template_id").as_string() == project_a1);
    // Each job's input is its own body.
    const auto stored = c.get("/jobs/" + std::string(jobs[1].at("uuid").as_string()), key_a).json();
    BOOST_TEST(stored.at("input") == json::value(odd));

    const auto again = post_batch(c, key_a, body, "batch-key-1");
    BOOST_TEST(again.status == 201u);
    BOOST_TEST(again.header("Idempotent-Replayed") == "true");
    BOOST_TEST(again.body == first.body);
    BOOST_TEST(post_batch(c, key_a, batch_of({odd}), "batch-key-1").status == 422u);
    BOOST_TEST(
        c.request(
             http::verb::post, "/jobs/v2",
             {{"x-api-key", key_a}, {"Content-Type", "application/json"}, {"Idempotency-Key", "batch-key-1"}},
             json::serialize(odd))
            .status == 422u);
    BOOST_TEST(list_all(c, key_a, "").size() == 2u);
    // Another account's key of the same name is its own.
    BOOST_TEST(post_batch(c, key_b, batch_of({job("video", project_b1, "replay")}), "batch-key-1").status ==
               201u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(strict_projects_check_values, Backend, backends) {
    server<Backend> s;
    auto c = s.client();
    json::object ok = job("ai_talking_video", project_c_strict, "strict");
    ok["values"] = json::object{{"headline", "Hello"},
                                {"voiceover", json::object{{"audio_url", "https://cdn.example.com/a.mp3"}}},
                                {"avatar", "https://cdn.example.com/a.png"}};
    BOOST_TEST(c.post("/jobs/v2", key_c, json::serialize(ok)).status == 201u);

    json::object bad = job("ai_talking_video", project_c_strict, "strict");
    bad["values"] = json::object{{"headline", ""},
                                 {"voiceover", json::object{{"image_url", "https://cdn.example.com/a.png"}}},
                                 {"colour", "red"}};
    const auto r = c.post("/jobs/v2", key_c, json::serialize(bad));
    BOOST_TEST_REQUIRE(r.status == 400u, r.body);
    std::map<std::string, std::string> problems;
    const auto answer = r.json();
    for (const auto& e : answer.at("errors").as_array())
        problems[std::string(e.at("field").as_string())] = e.at("problem").as_string();
    BOOST_TEST(problems.size() == 4u, r.body);
    BOOST_TEST(problems["values.headline"] == "must be text (a non-empty string)");
    BOOST_TEST(problems["values.voiceover"].starts_with("must be an audio URL"));
    BOOST_TEST(problems["values.avatar"] == "is required by the project (image)");
    BOOST_TEST(problems["values.colour"] == "is not a field of the project");
    json::object not_url = ok;
    not_url["values"].as_object()["avatar"] = "ftp://cdn.example.com/a.png";
    BOOST_TEST(bad_field(c.post("/jobs/v2", key_c, json::serialize(not_url))) == "values.avatar");

    // In a batch, the same checks with the job's index; nothing committed.
    const auto b = post_batch(c, key_c, batch_of({ok, bad}));
    BOOST_TEST_REQUIRE(b.status == 400u, b.body);
    BOOST_TEST(b.json().at("errors").as_array().size() == 4u);
    BOOST_TEST(b.json().at("errors").at(0).at("index").as_int64() == 1);
    BOOST_TEST(list_all(c, key_c, "").size() == 1u);
}

// Batches from several clients; jobsd is killed while they are being committed. Every batch in the
// store is whole (all its jobs) and every batch answered 201 is there.
BOOST_AUTO_TEST_CASE_TEMPLATE(kill_9_leaves_each_batch_whole_or_absent, Backend, backends) {
    server<Backend> s;
    constexpr int batch_size = 50;
    std::mutex mu;
    std::set<std::string> answered;  // batch sessions answered 201
    std::atomic<int> count{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t)
        clients.emplace_back([&, t] {
            http_client c(s.jobsd->host(), s.jobsd->port(), 5s);
            for (int i = 0; !stop; ++i) {
                const std::string session = "crash-" + std::to_string(t) + "-" + std::to_string(i);
                try {
                    const auto r = post_batch(
                        c, key_a,
                        batch_of(std::vector<json::object>(batch_size, job("video", project_a1, session))));
                    if (r.status != 201u) continue;
                    std::lock_guard lock(mu);
                    answered.insert(session);
                    ++count;
                } catch (const std::exception&) {
                    return;  // the server is gone
                }
            }
        });
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (count < 20 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    s.jobsd->kill9();
    stop = true;
    for (auto& t : clients) t.join();
    BOOST_TEST_REQUIRE(count >= 20, "too few batches before the kill: " << count);

    if constexpr (std::is_same_v<Backend, sqlite_backend>) {
        const auto rows = s.query("SELECT session_id, count(*) FROM jobs GROUP BY batch_id");
        std::set<std::string> stored;
        for (const auto& row : rows) {
            BOOST_TEST(row[1] == std::to_string(batch_size), row[0] << " has " << row[1] << " jobs");
            stored.insert(row[0]);
        }
        for (const auto& session : answered) BOOST_TEST(stored.count(session) == 1u, session << " was lost");
    } else {
        BOOST_TEST(
            s.query("SELECT count(*) FROM (SELECT batch_id FROM jobs GROUP BY batch_id HAVING count(*) <> " +
                    std::to_string(batch_size) + ") partial")[0][0] == "0");
        std::string list;
        for (const auto& session : answered) list += (list.empty() ? "'" : ", '") + session + "'";
        BOOST_TEST(s.query("SELECT count(DISTINCT session_id) FROM jobs WHERE session_id IN (" + list +
                           ")")[0][0] == std::to_string(answered.size()));
    }
    // A restart on the same store serves them.
    s.start();
    auto c = s.client();
    std::vector<std::size_t> pages;
    BOOST_TEST(list_all(c, key_a, "?session_id=" + *answered.begin()).size() == std::size_t(batch_size));
}

// A batch announces each job to the session's streams in one turn: a stream that keeps up hears
// every QUEUED of the largest batch allowed, with one io thread serving both, and is not cut off.
BOOST_AUTO_TEST_CASE(a_session_stream_hears_every_job_of_a_large_batch) {
    server<sqlite_backend> s({{"JOBSD_SERVER_THREADS", "1"}, {"JOBSD_SERVER_BATCH_MAX_JOBS", "1500"}});
    sse_client stream(s.jobsd->host(), s.jobsd->port(), key_a, "burst");
    std::vector<json::object> jobs(1500, job("ai_talking_video", project_a1, "burst"));
    auto c = s.client();
    const auto r = post_batch(c, key_a, batch_of(jobs));
    BOOST_TEST_REQUIRE(r.status == 201u, r.body);
    BOOST_TEST(stream.wait_for([](const auto& events) { return events.size() >= 1500; }, 30s));
    BOOST_TEST(stream.events().size() == 1500u);
    BOOST_TEST(stream.notices().empty());
    BOOST_TEST(!stream.wait_ended(200ms));
}

// One account's event streams are bounded (server.max_streams_per_account): one more is a 429
// with Retry-After, another account's stream opens.
BOOST_AUTO_TEST_CASE(an_account_past_its_streams_gets_429) {
    server<sqlite_backend> s(
        std::vector<std::pair<std::string, std::string>>{{"JOBSD_SERVER_MAX_STREAMS_PER_ACCOUNT", "2"}});
    sse_client first(s.jobsd->host(), s.jobsd->port(), key_a, "one");
    sse_client second(s.jobsd->host(), s.jobsd->port(), key_a, "two");
    auto c = s.client();
    const auto refused = c.get("/jobs/v2/events?session_id=three", key_a);
    BOOST_TEST(refused.status == 429u);
    BOOST_TEST(refused.header("Retry-After") == "15");
    BOOST_TEST(refused.body.find("Too many event streams") != std::string::npos, refused.body);
    sse_client other(s.jobsd->host(), s.jobsd->port(), key_b, "one");
    BOOST_TEST(!other.wait_ended(100ms));
}

BOOST_AUTO_TEST_SUITE_END()

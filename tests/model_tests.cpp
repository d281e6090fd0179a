// Unit tests of model/: validation, resolution, status transitions, clocks, ids, key hashes.
#define BOOST_TEST_MODULE model
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "model/create_request.hpp"
#include "model/job_event.hpp"
#include "model/job_status.hpp"
#include "model/json_scan.hpp"
#include "model/json_text.hpp"
#include "model/storable_text.hpp"
#include "model/strict_json.hpp"
#include "model/uuid.hpp"
#include "model/webhook_signature.hpp"
#include "model/webhook_url.hpp"

using namespace jobsd::model;

namespace {

request_error error_of(std::string_view body) {
    auto r = parse_create_request(body);
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<request_error>(r), "expected a refusal for " << body);
    return std::get<request_error>(r);
}

bool has_field(const request_error& e, std::string_view field) {
    for (const auto& f : e.errors)
        if (f.field == field) return true;
    return false;
}

create_request ok(std::string_view body) {
    auto r = parse_create_request(body);
    if (auto* e = std::get_if<request_error>(&r)) {
        std::string fields;
        for (const auto& f : e->errors) fields += f.field + " " + f.problem + "; ";
        BOOST_FAIL("refused: " << e->message << " " << fields);
    }
    return std::get<create_request>(r);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(create_request_parsing)

BOOST_AUTO_TEST_CASE(seed_example_is_accepted) {
    auto req = ok(R"({"job_type":"ai_talking_video","template_id":"468ea7a0-66e1-4357-a760-236e54167f3e",
        "version":2,"session_id":"s-1","values":{"headline":"Hi","voiceover":{"audio_url":"https://a/v.mp3","effects":[]},
        "avatar":{"image_url":"https://a/a.png"}},"background_music":null,"background_volume":0.5,"background_start":0})");
    BOOST_TEST(to_string(req.type) == "ai_talking_video");
    BOOST_TEST(req.template_id == "468ea7a0-66e1-4357-a760-236e54167f3e");
    BOOST_TEST(req.session_id == "s-1");
    BOOST_TEST(req.version.value() == 2.0);
}

BOOST_AUTO_TEST_CASE(malformed_and_non_object) {
    BOOST_TEST(error_of("{\"job_type\":").message == "Malformed JSON body");
    BOOST_TEST((error_of("{\"job_type\":").what == request_error::kind::malformed_json));
    BOOST_TEST(error_of("[1,2]").message == "Request body must be a JSON object");
    BOOST_TEST(error_of("\"x\"").message == "Request body must be a JSON object");
    BOOST_TEST(error_of("").message == "Malformed JSON body");
}

BOOST_AUTO_TEST_CASE(job_type_rules) {
    BOOST_TEST(has_field(error_of(R"({"template_id":"x"})"), "job_type"));
    BOOST_TEST(has_field(error_of(R"({"job_type":7})"), "job_type"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"hologram"})"), "job_type"));
    for (auto t : all_job_types) {
        auto req = ok(std::string(R"({"job_type":")") + std::string(to_string(t)) + "\"}");
        BOOST_TEST((req.type == t));
    }
}

BOOST_AUTO_TEST_CASE(wrong_types_of_known_fields) {
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","template_id":5})"), "template_id"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","project_id":[]})"), "project_id"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","session_id":{}})"), "session_id"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","version":"2"})"), "version"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","values":[]})"), "values"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"video","background_music":3})"), "background_music"));
}

BOOST_AUTO_TEST_CASE(values_entries) {
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","values":{"a":1}})"), "values.a"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","values":{"a":true}})"), "values.a"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"tts","values":{"a":["x"]}})"), "values.a"));
    BOOST_TEST(
        has_field(error_of(R"({"job_type":"tts","values":{"a":{"image_url":1}}})"), "values.a.image_url"));
    BOOST_TEST(
        has_field(error_of(R"({"job_type":"tts","values":{"a":{"effects":"x"}}})"), "values.a.effects"));
    ok(R"({"job_type":"tts","values":{"a":"text","b":{"image_url":"u","extra":1},"c":{"audio_url":"u","effects":[1]}}})");
}

BOOST_AUTO_TEST_CASE(background_ranges) {
    ok(R"({"job_type":"video","background_volume":0,"background_start":0})");
    ok(R"({"job_type":"video","background_volume":1,"background_music":"https://m"})");
    BOOST_TEST(has_field(error_of(R"({"job_type":"video","background_volume":1.01})"), "background_volume"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"video","background_volume":-0.1})"), "background_volume"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"video","background_volume":"0.5"})"), "background_volume"));
    BOOST_TEST(has_field(error_of(R"({"job_type":"video","background_start":-1})"), "background_start"));
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_at_once) {
    auto e = error_of(R"({"job_type":1,"template_id":2,"background_volume":9})");
    BOOST_TEST(e.errors.size() == 3u);
    BOOST_TEST(e.message == "Invalid request");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resolution)

namespace {

catalog make_catalog() {
    catalog c;
    c.projects["p1"] = project{"p1", "a", "One", "video", std::nullopt, std::nullopt, {}};
    c.projects["p2"] = project{"p2", "a", "Two", "video", std::nullopt, std::nullopt, {}};
    c.projects["old"] = project{"old", "a", "Old", "video", std::nullopt, 1000, {}};
    c.projects["soon"] = project{"soon", "a", "Soon", "video", 5000, std::nullopt, {}};
    c.projects["pb"] = project{"pb", "b", "B's", "video", std::nullopt, std::nullopt, {}};
    c.image_prompts["ip1"] = image_prompt{"ip1", "a", "Prompt", "a cat"};
    c.image_prompts["ipb"] = image_prompt{"ipb", "b", "Prompt", "a dog"};
    return c;
}

create_request req(job_type t, std::string tmpl, std::string proj) {
    create_request r;
    r.type = t;
    r.template_id = std::move(tmpl);
    r.project_id = std::move(proj);
    return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(template_id_wins_without_fallback) {
    const auto c = make_catalog();
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "p1", "p2"), 2000).id == "p1");
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "", "p2"), 2000).id == "p2");
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "pb", "p2"), 2000).problem == "Project not found");
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "", ""), 2000).problem == "Project not found");
}

BOOST_AUTO_TEST_CASE(ownership_and_dates) {
    const auto c = make_catalog();
    BOOST_TEST(resolve_source(c, "b", req(job_type::video, "p1", ""), 2000).problem == "Project not found");
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "old", ""), 2000).problem ==
               "Project is not active");
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "soon", ""), 2000).problem ==
               "Project is not active");
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "soon", ""), 5000).problem.empty());
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "old", ""), 1000).problem.empty());
}

BOOST_AUTO_TEST_CASE(image_generation_through_prompt) {
    const auto c = make_catalog();
    BOOST_TEST(resolve_source(c, "a", req(job_type::ai_image_generation, "", "ip1"), 0).id == "ip1");
    BOOST_TEST(resolve_source(c, "a", req(job_type::ai_image_generation, "", "ipb"), 0).problem ==
               "Project not found");
    // A project id is not a prompt, and a prompt id is not a project.
    BOOST_TEST(resolve_source(c, "a", req(job_type::ai_image_generation, "", "p1"), 0).problem ==
               "Project not found");
    BOOST_TEST(resolve_source(c, "a", req(job_type::video, "", "ip1"), 0).problem == "Project not found");
    BOOST_TEST(resolve_source(c, "a", req(job_type::ai_image_generation, "p1", ""), 0).id == "p1");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(status_only_moves_forward) {
    BOOST_TEST(can_advance(job_status::queued, job_status::started));
    BOOST_TEST(can_advance(job_status::started, job_status::success));
    BOOST_TEST(can_advance(job_status::in_progress, job_status::in_progress));
    BOOST_TEST(!can_advance(job_status::started, job_status::queued));
    BOOST_TEST(!can_advance(job_status::success, job_status::failed));
    BOOST_TEST(!can_advance(job_status::failed, job_status::success));
    BOOST_TEST(!can_advance(job_status::started, job_status::started));
    BOOST_TEST((parse_job_status("IN_PROGRESS").value() == job_status::in_progress));
    BOOST_TEST(!parse_job_status("DONE").has_value());
}

BOOST_AUTO_TEST_CASE(iso8601_round_trip) {
    BOOST_TEST(format_iso8601(0) == "1970-01-01T00:00:00.000Z");
    BOOST_TEST(format_iso8601(1776340982123) == "2026-04-16T12:03:02.123Z");
    BOOST_TEST(parse_iso8601("2026-04-16T12:03:02.123Z").value() == 1776340982123);
    BOOST_TEST(parse_iso8601("2026-04-16T12:03:02Z").value() == 1776340982000);
    BOOST_TEST(parse_iso8601("2026-04-16T14:03:02+02:00").value() == 1776340982000);
    BOOST_TEST(parse_iso8601("2026-04-16").value() == 1776297600000);
    BOOST_TEST(!parse_iso8601("2026-02-30").has_value());
    BOOST_TEST(!parse_iso8601("yesterday").has_value());
    BOOST_TEST(!parse_iso8601("2026-04-16T12:03").has_value());
}

BOOST_AUTO_TEST_CASE(iso8601_formats_every_field_of_every_four_digit_year) {
    BOOST_TEST(format_iso8601(-1) == "1969-12-31T23:59:59.999Z");
    BOOST_TEST(format_iso8601(1709251199999) == "2024-02-29T23:59:59.999Z");
    BOOST_TEST(format_iso8601(-62167219200000) == "0000-01-01T00:00:00.000Z");
    BOOST_TEST(format_iso8601(253402300799999) == "9999-12-31T23:59:59.999Z");
    BOOST_TEST(format_iso8601(253402300800000) == "10000-01-01T00:00:00.000Z");  // five digits, not cut
    // Every millisecond field, day of year and year apart: stepping a prime number of ms from year
    // 0 to 9999, each text parses back to its instant.
    std::size_t checked = 0;
    for (std::int64_t ms = -62167219200000; ms <= 253402300799999; ms += 1'000'003'333'337) {
        const auto text = format_iso8601(ms);
        BOOST_TEST_REQUIRE(text.size() == 24u, text);
        BOOST_TEST_REQUIRE(parse_iso8601(text).value_or(0) == ms, text);
        ++checked;
    }
    BOOST_TEST(checked > 300u);
}

// The example of the Standard Webhooks specification, and a rotation's two signatures.
BOOST_AUTO_TEST_CASE(webhook_signature_matches_the_specification_example) {
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const std::string id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const std::string body = R"({"test": 2432232314})";
    BOOST_TEST(webhook_signature(id, 1614265330, body, secret) ==
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    // Signing with another key in between leaves nothing behind for the next signature.
    const std::vector<std::string> both{"whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLXNlY3JldA==", secret};
    const auto header = webhook_signature_header(id, 1614265330, body, both);
    BOOST_TEST(header.ends_with(" v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    BOOST_TEST(header.starts_with(webhook_signature(id, 1614265330, body, both[0]) + " "));
    BOOST_TEST(webhook_signature(id, 1614265331, body, secret) !=
               webhook_signature(id, 1614265330, body, secret));
}

BOOST_AUTO_TEST_CASE(uuids_are_v7_and_unique) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        auto u = new_uuid();
        BOOST_REQUIRE(is_uuid(u));
        BOOST_REQUIRE(u[14] == '7');
        BOOST_REQUIRE(std::string("89ab").find(u[19]) != std::string::npos);
        BOOST_REQUIRE(seen.insert(u).second);
    }
    BOOST_TEST(!is_uuid("not-a-uuid"));
    BOOST_TEST(!is_uuid("468ea7a0-66e1-4357-a760-236e54167f3"));
}

// Thousands fall in one millisecond here; each is still above the one before, from any thread,
// and its first 12 hex digits are the clock's milliseconds (a counter overflow may run ahead).
BOOST_AUTO_TEST_CASE(uuids_of_one_process_increase_within_a_millisecond) {
    constexpr int per_thread = 20000;
    std::vector<std::string> a, b;
    a.reserve(per_thread);
    b.reserve(per_thread);
    const auto before = jobsd::model::now_ms();
    std::thread other([&] {
        for (int i = 0; i < per_thread; ++i) b.push_back(new_uuid());
    });
    for (int i = 0; i < per_thread; ++i) a.push_back(new_uuid());
    other.join();
    const auto after = jobsd::model::now_ms();
    for (const auto* v : {&a, &b}) {
        for (std::size_t i = 1; i < v->size(); ++i) BOOST_REQUIRE((*v)[i - 1] < (*v)[i]);
        const auto ms = [](const std::string& u) {
            return std::stoll(u.substr(0, 8) + u.substr(9, 4), nullptr, 16);
        };
        BOOST_TEST(ms(v->front()) >= before);
        BOOST_TEST(ms(v->back()) <= after + 2 * per_thread / 4096 + 1);
    }
    std::set<std::string> all(a.begin(), a.end());
    all.insert(b.begin(), b.end());
    BOOST_TEST(all.size() == 2u * per_thread);
}

BOOST_AUTO_TEST_CASE(key_hash_is_sha256_hex) {
    BOOST_TEST(hash_api_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(key_prefix("demo_key_123456") == "demo_key");
}

BOOST_AUTO_TEST_SUITE(json_scan)

BOOST_AUTO_TEST_CASE(a_members_text_is_found_as_written) {
    const std::string_view doc =
        R"( {"a": "x\"}{[", "values" : { "n": 0.4, "s": "}" } , "v": [1, {"values": 2}], "z": null} )";
    BOOST_TEST(member_text(doc, "values").value_or("?") == R"({ "n": 0.4, "s": "}" })");
    BOOST_TEST(member_text(doc, "a").value_or("?") == R"("x\"}{[")");
    BOOST_TEST(member_text(doc, "v").value_or("?") == R"([1, {"values": 2}])");
    BOOST_TEST(member_text(doc, "z").value_or("?") == "null");
    BOOST_TEST(!member_text(doc, "n").has_value());  // nested members are not top-level
    BOOST_TEST(!member_text(R"({"\u0076alues": 1})", "values").has_value());  // escaped key
    BOOST_TEST(!member_text("{}", "values").has_value());
    BOOST_TEST(!member_text("[1]", "values").has_value());
}

BOOST_AUTO_TEST_CASE(an_only_members_elements_are_found_as_written) {
    const auto e = only_member_elements(R"({"jobs": [ {"a": "]"} , 3.50,"s" ,null,[1,[2]] ]})");
    BOOST_TEST(e == (std::vector<std::string_view>{R"({"a": "]"})", "3.50", R"("s")", "null", "[1,[2]]"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_text)

// Whatever goes in comes back from a JSON parser unchanged.
BOOST_AUTO_TEST_CASE(strings_round_trip_through_a_parser) {
    std::string every_ascii;
    for (int c = 0; c < 128; ++c) every_ascii.push_back(static_cast<char>(c));
    for (const std::string& s :
         {std::string(), std::string("plain"), std::string(R"(q"uo\te)"), every_ascii,
          std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac"), std::string("\"\"\\\\")}) {
        std::string out = "[";
        jobsd::model::append_json_string(out, s);
        out += "]";
        boost::system::error_code ec;
        const auto v = boost::json::parse(out, ec);
        BOOST_TEST_REQUIRE(!ec, out);
        BOOST_TEST(std::string(v.as_array().at(0).as_string()) == s);
    }
}

BOOST_AUTO_TEST_CASE(escapes_are_the_short_ones_where_they_exist) {
    std::string out;
    jobsd::model::append_json_string(out, std::string_view("a\nb\t\x01\"", 6));
    BOOST_TEST(out == R"("a\nb\t\u0001\"")");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(generated_keys_have_their_shape_and_differ) {
    const std::string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const auto key = generate_api_key(key_kind::customer);
        // jk_ + 8 public + _ + 32 secret (160 bits)
        BOOST_REQUIRE_EQUAL(key.size(), 44u);
        BOOST_TEST(key.substr(0, 3) == "jk_");
        BOOST_TEST(key[11] == '_');
        BOOST_TEST(key.substr(3, 8).find_first_not_of(alphabet) == std::string::npos);
        BOOST_TEST(key.substr(12).find_first_not_of(alphabet) == std::string::npos);
        BOOST_TEST(key_prefix(key) == key.substr(0, 11));
        BOOST_REQUIRE_MESSAGE(seen.insert(key).second, "repeated key " << key);
        BOOST_REQUIRE_MESSAGE(seen.insert(key_prefix(key)).second, "repeated public id " << key);
    }
    // Every base32 character turns up among 200 x 40 random characters; a stuck bit would not.
    std::string all;
    for (const auto& k : seen) all += k.size() == 44 ? k.substr(12) : std::string{};
    for (char c : alphabet)
        BOOST_TEST_CONTEXT("character " << c) BOOST_TEST(all.find(c) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(operator_keys_have_their_own_tag) {
    const auto key = generate_api_key(key_kind::operator_key);
    BOOST_TEST(key.substr(0, 3) == "jo_");
    BOOST_TEST(key_prefix(key) == key.substr(0, 11));
    BOOST_TEST(key.size() == 44u);
}

BOOST_AUTO_TEST_CASE(prefix_of_other_shapes_is_eight_characters) {
    // Seeded demo keys keep the prefix they always had.
    BOOST_TEST(key_prefix("demo-key-7c1f4e2a9b3d") == "demo-key");
    BOOST_TEST(key_prefix("jk_short") == "jk_short");
    BOOST_TEST(key_prefix("jk_ABCDEFGH_secret") == "jk_ABCDE");  // not base32 lower case: not generated
    BOOST_TEST(key_prefix("abc") == "abc");
}

BOOST_AUTO_TEST_SUITE(strict_json)

BOOST_AUTO_TEST_CASE(duplicate_keys_are_refused_at_any_depth) {
    BOOST_TEST(
        strict_json_problem(R"({"job_type":"tts","job_type":"pdf"})").find("duplicate key \"job_type\"") !=
        std::string::npos);
    BOOST_TEST(!strict_json_problem(R"({"values":{"a":"x","a":"y"}})").empty());
    BOOST_TEST(!strict_json_problem(R"([{"a":1},{"b":{"c":1,"c":2}}])").empty());
    // The same key in sibling objects is fine; so are keys split across escapes.
    BOOST_TEST(strict_json_problem(R"({"a":{"k":1},"b":{"k":1},"k":[{"k":1}]})").empty());
    BOOST_TEST(!strict_json_problem(R"({"a\u0062":1,"ab":2})").empty());
    // A closed object's keys are forgotten: siblings and the parent may reuse them.
    BOOST_TEST(strict_json_problem(R"({"a":{"x":1,"y":{"x":2}},"x":3,"y":[{"x":4}]})").empty());
    // Objects past the pairwise-comparison size are checked as well.
    std::string many = "{";
    for (int i = 0; i < 40; ++i)
        many += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":" + std::to_string(i));
    BOOST_TEST(strict_json_problem(many + "}").empty());
    BOOST_TEST(strict_json_problem(many + ",\"k17\":0}").find("duplicate key \"k17\"") != std::string::npos);
    // After a refusal, the next document on the same thread starts clean.
    BOOST_TEST(strict_json_problem(R"({"k17":1})").empty());
}

BOOST_AUTO_TEST_CASE(depth_numbers_utf8_and_trailing_bytes) {
    const std::string deep = std::string(33, '[') + std::string(33, ']');
    const std::string ok_depth = std::string(32, '[') + std::string(32, ']');
    BOOST_TEST(strict_json_problem(deep).find("nested deeper") != std::string::npos);
    BOOST_TEST(strict_json_problem(ok_depth).empty());
    BOOST_TEST(strict_json_problem(R"({"v":1e400})").find("out of range") != std::string::npos);
    BOOST_TEST(strict_json_problem(R"({"v":-1e400})").find("out of range") != std::string::npos);
    BOOST_TEST(strict_json_problem(R"({"v":1e300,"w":123456789012345678901234567890})").empty());
    BOOST_TEST(strict_json_problem("{\"v\":\"\xff\"}") == "Malformed JSON body");
    BOOST_TEST(strict_json_problem("{} x") == "Malformed JSON body");
    BOOST_TEST(strict_json_problem("{}   \n").empty());
}

// One pass that checks and builds: the problem strict_json_problem names, or the tree
// boost::json::parse builds, in the storage it was given (moved, not copied out of it).
BOOST_AUTO_TEST_CASE(one_pass_parse_agrees_with_the_check_and_with_boost_json_parse) {
    const std::vector<std::string> texts = {
        R"({"job_type":"tts","values":{"a":"x","b":[1,-2,3.5,true,false,null]},"version":1.2})",
        R"({"a\u0062":"\ud83d\ude00","n":18446744073709551615,"m":-9223372036854775808})",
        R"([{"a":1},{"b":{"c":1,"d":2}}])",
        R"("just a string")",
        "{}   \n",
        R"({"job_type":"tts","job_type":"pdf"})",
        R"({"v":1e400})",
        std::string(33, '[') + std::string(33, ']'),
        "{\"v\":\"\xff\"}",
        "{} x",
        R"({"a":)",
        "",
    };
    for (const auto& text : texts) {
        unsigned char buf[512];
        boost::json::monotonic_resource mr(buf, sizeof buf);
        const boost::json::storage_ptr sp(&mr);
        const auto parsed = jobsd::model::parse_strict_json(text, sp);
        BOOST_TEST(parsed.problem == strict_json_problem(text), text);
        if (!parsed.problem.empty()) continue;
        std::error_code ec;
        BOOST_TEST(parsed.doc == boost::json::parse(text, ec), text);
        BOOST_TEST(!ec);
        BOOST_TEST((parsed.doc.storage().get() == sp.get()), text);
    }
}

BOOST_AUTO_TEST_CASE(create_request_refuses_ambiguous_bodies_with_400_messages) {
    auto e = error_of(R"({"job_type":"tts","job_type":"pdf"})");
    BOOST_TEST((e.what == request_error::kind::malformed_json));
    BOOST_TEST(e.message.find("duplicate key") != std::string::npos);
    BOOST_TEST(error_of(R"({"job_type":"tts","background_volume":1e999})").message.find("out of range") !=
               std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// Text the stores keep exactly: UTF-8 as RFC 3629 has it, and no NUL.
BOOST_AUTO_TEST_SUITE(storable_text)

BOOST_AUTO_TEST_CASE(utf8_without_nul_is_storable_and_nothing_else) {
    using namespace std::string_literals;
    for (const std::string& ok : {""s, "key-1 ~!"s, "caf\xc3\xa9"s, "\xe2\x9c\x93"s, "\xf0\x9f\x8e\xac"s,
                                  "\xf4\x8f\xbf\xbf"s, "\xef\xbf\xbd"s})
        BOOST_TEST(jobsd::model::is_storable_text(ok), ok);
    const std::string bad[] = {
        "a\0b"s,              // NUL: PostgreSQL ends the text there
        "\xff"s,              // never in UTF-8
        "\xc3"s,              // a sequence cut short
        "caf\xc3("s,          // a lead byte without its continuation
        "\xc0\xaf"s,          // an overlong '/'
        "\xe0\x80\xaf"s,      // the same in three bytes
        "\xed\xa0\x80"s,      // a surrogate (U+D800)
        "\xf4\x90\x80\x80"s,  // past U+10FFFF
        "\x80"s,              // a continuation byte alone
    };
    for (const auto& b : bad) {
        std::string hex;
        for (unsigned char c : b) hex += "0123456789abcdef"[c >> 4], hex += "0123456789abcdef"[c & 15];
        BOOST_TEST(!jobsd::model::is_storable_text(b), hex);
    }
}

BOOST_AUTO_TEST_CASE(a_webhook_host_is_a_dns_name_or_an_address) {
    for (const char* ok : {"https://hooks.example.com/a?b=1", "http://10.0.0.1:8080/", "https://[::1]/x",
                           "https://under_score.example/", "https://%65xample.com/"})
        BOOST_TEST(jobsd::model::webhook_url_problem(ok).empty(), ok);
    for (const char* bad : {"https://%ff.example/", "https://exa%00mple.com/", "https://caf%C3%A9.example/",
                            "https://a%2Fb.example/", "https://[v1.x]/"})
        BOOST_TEST(
            jobsd::model::webhook_url_problem(bad) == "must name its host by a DNS name or an IP address",
            bad);
}

BOOST_AUTO_TEST_SUITE_END()

// A status event message: one event, or a batch of them (contract 3), each checked on its own.
BOOST_AUTO_TEST_CASE(event_messages_hold_one_event_or_a_batch) {
    using jobsd::model::event_error;
    using jobsd::model::job_event;
    const std::string u1 = "0190f2a4-0000-7000-8000-000000000001";
    const std::string u2 = "0190f2a4-0000-7000-8000-000000000002";
    const std::string trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    auto one = jobsd::model::parse_job_events(R"({"uuid":")" + u1 + R"(","job_status":"STARTED"})", 7);
    BOOST_REQUIRE(one.size() == 1u);
    BOOST_REQUIRE(std::holds_alternative<job_event>(one[0]));
    BOOST_TEST(std::get<job_event>(one[0]).uuid == u1);
    BOOST_TEST(std::get<job_event>(one[0]).at_ms == 7);

    auto batch = jobsd::model::parse_job_events(
        R"({"events":[{"uuid":")" + u1 + R"(","job_status":"STARTED","traceparent":")" + trace +
            R"("},{"uuid":"nope","job_status":"SUCCESS"},)"
            R"({"uuid":")" +
            u2 + R"(","job_status":"SUCCESS","attempt":2,"at":"2026-04-16T12:03:02.000Z"},7]})",
        7);
    BOOST_REQUIRE(batch.size() == 4u);
    BOOST_REQUIRE(std::holds_alternative<job_event>(batch[0]));
    BOOST_TEST(jobsd::model::to_string(std::get<job_event>(batch[0]).status) == "STARTED");
    BOOST_TEST(std::get<job_event>(batch[0]).trace_id == "0af7651916cd43dd8448eb211c80319c");
    BOOST_REQUIRE(std::holds_alternative<event_error>(batch[1]));  // refused alone
    BOOST_TEST(std::get<event_error>(batch[1]).problem.find("uuid") != std::string::npos);
    BOOST_REQUIRE(std::holds_alternative<job_event>(batch[2]));
    BOOST_TEST(std::get<job_event>(batch[2]).uuid == u2);
    BOOST_TEST(std::get<job_event>(batch[2]).attempt.value_or(0) == 2);
    BOOST_TEST(std::get<job_event>(batch[2]).at_ms == 1776340982000);
    BOOST_TEST(std::get<job_event>(batch[2]).trace_id.empty());
    BOOST_TEST(std::holds_alternative<event_error>(batch[3]));  // not an object

    auto bad = jobsd::model::parse_job_events(R"({"events":{"uuid":")" + u1 + R"("}})", 7);
    BOOST_REQUIRE(bad.size() == 1u);
    BOOST_TEST(std::get<event_error>(bad[0]).problem == "events is not an array");
    auto garbage = jobsd::model::parse_job_events("{", 7);
    BOOST_REQUIRE(garbage.size() == 1u);
    BOOST_TEST(std::holds_alternative<event_error>(garbage[0]));
}

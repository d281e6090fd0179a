// Unit tests of queue/ without a broker: confirm bookkeeping and the job message contract.
#define BOOST_TEST_MODULE queue
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include "queue/confirm_tracker.hpp"
#include "queue/job_message.hpp"

using namespace jobsd;
using queue::confirm_tracker;
using queue::job_message;

namespace {

job_message msg(std::string uuid) {
    return {std::move(uuid), "video", "{}", 0};
}

std::vector<std::string> ids(const std::vector<job_message>& v) {
    std::vector<std::string> out;
    for (const auto& m : v) out.push_back(m.uuid);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tags_start_at_one_and_count_up) {
    confirm_tracker t;
    BOOST_TEST(t.on_publish(msg("a")) == 1u);
    BOOST_TEST(t.on_publish(msg("b")) == 2u);
    BOOST_TEST(t.outstanding() == 2u);
}

BOOST_AUTO_TEST_CASE(single_ack_settles_only_its_tag) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    auto s = t.on_ack(2, false);
    BOOST_TEST(ids(s.confirmed) == std::vector<std::string>{"b"});
    BOOST_TEST(t.outstanding() == 2u);
    s = t.on_ack(1, false);
    BOOST_TEST(ids(s.confirmed) == std::vector<std::string>{"a"});
    // A repeated ack for a settled tag changes nothing.
    BOOST_TEST(t.on_ack(2, false).confirmed.empty());
    BOOST_TEST(t.outstanding() == 1u);
}

BOOST_AUTO_TEST_CASE(multiple_ack_settles_everything_up_to_the_tag) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c", "d"}) t.on_publish(msg(id));
    t.on_ack(2, false);
    auto s = t.on_ack(3, true);
    BOOST_TEST(ids(s.confirmed) == (std::vector<std::string>{"a", "c"}));
    BOOST_TEST(t.outstanding() == 1u);
    BOOST_TEST(ids(t.on_ack(4, true).confirmed) == std::vector<std::string>{"d"});
    BOOST_TEST(t.outstanding() == 0u);
}

BOOST_AUTO_TEST_CASE(nack_fails_and_multiple_nack_fails_a_range) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    auto s = t.on_nack(2, true);
    BOOST_TEST(ids(s.failed) == (std::vector<std::string>{"a", "b"}));
    BOOST_TEST(s.confirmed.empty());
    BOOST_TEST(t.outstanding() == 1u);
}

BOOST_AUTO_TEST_CASE(returned_message_is_a_failure_even_when_acked) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    t.on_return("b");
    auto s = t.on_ack(3, true);
    BOOST_TEST(ids(s.confirmed) == (std::vector<std::string>{"a", "c"}));
    BOOST_TEST(ids(s.failed) == std::vector<std::string>{"b"});
}

BOOST_AUTO_TEST_CASE(reset_hands_back_the_unsettled_oldest_first_and_restarts_tags) {
    confirm_tracker t;
    for (auto id : {"a", "b", "c"}) t.on_publish(msg(id));
    t.on_ack(2, false);
    BOOST_TEST(ids(t.reset()) == (std::vector<std::string>{"a", "c"}));
    BOOST_TEST(t.outstanding() == 0u);
    BOOST_TEST(t.on_publish(msg("d")) == 1u);
    BOOST_TEST(t.on_ack(7, false).confirmed.empty());  // a tag never issued
}

BOOST_AUTO_TEST_CASE(job_message_follows_the_contract) {
    model::job j;
    j.uuid = "01900000-0000-7000-8000-000000000001";
    j.account_id = "acc \"q\"";
    j.source_id = "p1";
    j.type = model::job_type::ai_talking_video;
    j.session_id = "s1";
    j.version = 2;
    j.input = R"({"job_type":"ai_talking_video","values":{"a":"b"},"x":[1,2]})";
    j.created_ms = 1776340982123;
    auto m = queue::make_job_message(j);
    BOOST_TEST(m.uuid == j.uuid);
    BOOST_TEST(m.job_type == "ai_talking_video");
    auto body = boost::json::parse(m.body).as_object();
    BOOST_TEST(body.at("uuid").as_string() == j.uuid);
    BOOST_TEST(body.at("job_type").as_string() == "ai_talking_video");
    BOOST_TEST(body.at("account_id").as_string() == "acc \"q\"");
    BOOST_TEST(body.at("source_id").as_string() == "p1");
    BOOST_TEST(body.at("session_id").as_string() == "s1");
    BOOST_TEST(body.at("version").is_int64());  // 2, not 2E0: typed consumers read an integer
    BOOST_TEST(body.at("version").as_int64() == 2);
    BOOST_TEST(body.at("input") == boost::json::parse(j.input));
    BOOST_TEST(body.at("created_at").as_string() == "2026-04-16T12:03:02.123Z");
    BOOST_TEST(body.size() == 8u);

    j.version = 2.5;
    BOOST_TEST(boost::json::parse(queue::make_job_message(j).body).as_object().at("version").as_double() ==
               2.5);
    j.version.reset();
    BOOST_TEST(boost::json::parse(queue::make_job_message(j).body).as_object().at("version").is_null());
}

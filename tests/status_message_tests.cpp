// The status relay's message body: what one jobsd writes, another reads back unchanged, and a
// body from anything else gives no events rather than wrong ones.
#include <boost/test/unit_test.hpp>

#include <string>

#include "queue/status_message.hpp"

using namespace jobsd::queue;

BOOST_AUTO_TEST_SUITE(status_message)

BOOST_AUTO_TEST_CASE(records_come_back_as_they_were_written) {
    // The event text is kept byte for byte (not re-serialized): numbers, escapes and key order.
    const std::string first =
        R"({"uuid":"u-1","job_status":"IN_PROGRESS","progress":0.5,"note":"a \"q\" \u00e9"})";
    const std::string second = R"({"uuid":"u-2","job_status":"SUCCESS"})";
    std::string records;
    append_status_record(records, "acc_a", "sess\n\"tab\t", first);
    append_status_record(records, "acc_b", "s2", second);
    const auto back = parse_status_body(status_body(records));
    BOOST_TEST_REQUIRE(back.size() == 2u);
    BOOST_TEST(back[0].account_id == "acc_a");
    BOOST_TEST(back[0].session_id == "sess\n\"tab\t");
    BOOST_TEST(back[0].event == first);
    BOOST_TEST(back[1].account_id == "acc_b");
    BOOST_TEST(back[1].session_id == "s2");
    BOOST_TEST(back[1].event == second);
    BOOST_TEST(parse_status_body(status_body("")).empty());
}

BOOST_AUTO_TEST_CASE(entries_of_another_shape_are_skipped) {
    const auto back =
        parse_status_body(R"([["a","s","e"],["a","s"],["a",1,"e"],{"a":"s"},"x",["b","t","f"]])");
    BOOST_TEST_REQUIRE(back.size() == 2u);
    BOOST_TEST(back[0].event == "e");
    BOOST_TEST(back[1].account_id == "b");
    BOOST_TEST(parse_status_body("not json").empty());
    BOOST_TEST(parse_status_body(R"({"a":["a","s","e"]})").empty());
}

BOOST_AUTO_TEST_SUITE_END()

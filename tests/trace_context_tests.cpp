// Unit tests of model/trace_context: W3C traceparent parsing, formatting and new ids.
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "model/trace_context.hpp"

namespace m = jobsd::model;

namespace {
const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string parent = "00f067aa0ba902b7";
const std::string valid = "00-" + trace + "-" + parent + "-01";

bool is_valid_v00(const std::string& s) {
    auto p = m::parse_traceparent(s);
    return p && s.size() == 55 && s.substr(0, 3) == "00-";
}
}  // namespace

BOOST_AUTO_TEST_SUITE(trace_context)

BOOST_AUTO_TEST_CASE(a_valid_header_is_read_and_formatted_back) {
    auto t = m::parse_traceparent(valid);
    BOOST_REQUIRE(t);
    BOOST_TEST(t->trace_id == trace);
    BOOST_TEST(t->parent_id == parent);
    BOOST_TEST(t->flags == 1);
    BOOST_TEST(m::format_traceparent(*t) == valid);
    auto unsampled = m::parse_traceparent("00-" + trace + "-" + parent + "-00");
    BOOST_REQUIRE(unsampled);
    BOOST_TEST(unsampled->flags == 0);
}

BOOST_AUTO_TEST_CASE(invalid_headers_are_refused) {
    BOOST_TEST(!m::parse_traceparent(""));
    BOOST_TEST(!m::parse_traceparent("00-" + std::string("4BF92F3577B34DA6A3CE929D0E0E4736") + "-" + parent +
                                     "-01"));
    BOOST_TEST(!m::parse_traceparent("00-" + trace + "-00F067AA0BA902B7-01"));
    BOOST_TEST(!m::parse_traceparent("00-" + trace + "-" + parent + "-0A"));
    BOOST_TEST(!m::parse_traceparent("00-" + std::string(32, '0') + "-" + parent + "-01"));
    BOOST_TEST(!m::parse_traceparent("00-" + trace + "-" + std::string(16, '0') + "-01"));
    BOOST_TEST(!m::parse_traceparent("00-" + trace.substr(1) + "-" + parent + "-01"));  // 31 digits
    BOOST_TEST(!m::parse_traceparent("00-" + trace + "0-" + parent + "-01"));           // 33 digits
    BOOST_TEST(!m::parse_traceparent("00-" + trace + "-" + parent.substr(1) + "-01"));  // 15 digits
    BOOST_TEST(!m::parse_traceparent("00-" + trace + "-" + parent + "-1"));             // one flag digit
    BOOST_TEST(!m::parse_traceparent(valid + "-extra"));  // version 00 has nothing after the flags
    BOOST_TEST(!m::parse_traceparent(valid + " "));
    BOOST_TEST(!m::parse_traceparent("ff-" + trace + "-" + parent + "-01"));  // version ff is invalid
    BOOST_TEST(!m::parse_traceparent("0g-" + trace + "-" + parent + "-01"));
    BOOST_TEST(!m::parse_traceparent("00_" + trace + "_" + parent + "_01"));
}

BOOST_AUTO_TEST_CASE(a_future_version_is_read_by_its_version_00_part) {
    auto plain = m::parse_traceparent("cc-" + trace + "-" + parent + "-01");
    BOOST_REQUIRE(plain);
    BOOST_TEST(plain->trace_id == trace);
    auto extended = m::parse_traceparent("cc-" + trace + "-" + parent + "-01-what-the-future-holds");
    BOOST_REQUIRE(extended);
    BOOST_TEST(extended->parent_id == parent);
    BOOST_TEST(m::format_traceparent(*extended) == valid);  // passed on as version 00
    // More fields must follow a '-'.
    BOOST_TEST(!m::parse_traceparent("cc-" + trace + "-" + parent + "-01x"));
}

BOOST_AUTO_TEST_CASE(new_traces_and_children_are_valid_and_distinct) {
    std::set<std::string> ids;
    for (int i = 0; i < 200; ++i) {
        const auto t = m::new_trace();
        const auto text = m::format_traceparent(t);
        BOOST_TEST(is_valid_v00(text), text);
        BOOST_TEST(t.flags == 1);
        ids.insert(t.trace_id);
    }
    BOOST_TEST(ids.size() == 200u);
    const auto caller = *m::parse_traceparent(valid);
    const auto child = m::child_of(caller);
    BOOST_TEST(child.trace_id == trace);
    BOOST_TEST(child.parent_id != parent);
    BOOST_TEST(child.flags == caller.flags);
}

BOOST_AUTO_TEST_CASE(ingest_continues_a_valid_trace_and_restarts_an_invalid_one) {
    const auto kept = m::ingest_traceparent(valid);
    BOOST_TEST(is_valid_v00(kept), kept);
    BOOST_TEST(std::string(m::trace_id_of(kept)) == trace);
    BOOST_TEST(kept.substr(36, 16) != parent);  // jobsd's own span, not the caller's
    const auto unsampled = m::ingest_traceparent("00-" + trace + "-" + parent + "-00");
    BOOST_TEST(unsampled.substr(53) == "00");
    for (const std::string& bad :
         {std::string(), std::string("garbage"), "00-" + std::string(32, '0') + "-" + parent + "-01"}) {
        const auto fresh = m::ingest_traceparent(bad);
        BOOST_TEST(is_valid_v00(fresh), fresh);
        BOOST_TEST(std::string(m::trace_id_of(fresh)) != trace);
        BOOST_TEST(fresh.substr(53) == "01");
    }
    BOOST_TEST(m::trace_id_of("").empty());
}

BOOST_AUTO_TEST_SUITE_END()

// The notification hub with an outlet to other instances (a fake of queue::status_outlet): what
// it forwards, when, and what it counts as listening.
#include <boost/test/unit_test.hpp>

#include <boost/asio/io_context.hpp>

#include <string>
#include <tuple>
#include <vector>

#include "server/notification_hub.hpp"

namespace {

struct fake_outlet final : jobsd::queue::status_outlet {
    bool elsewhere = false;
    int announcements = 0;
    std::vector<std::tuple<std::string, std::string, std::string>> forwarded;

    bool listened_elsewhere() const noexcept override { return elsewhere; }
    void forward(std::string_view account, std::string_view session, std::string_view event) override {
        forwarded.emplace_back(account, session, event);
    }
    void listening_here() noexcept override { ++announcements; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(notification_hub)

BOOST_AUTO_TEST_CASE(events_go_to_other_instances_only_while_one_listens) {
    boost::asio::io_context io;
    jobsd::server::notification_hub hub;
    fake_outlet outlet;
    hub.attach(&outlet);

    BOOST_TEST(!hub.listened());
    hub.publish("acc", "s1", "e1");
    BOOST_TEST(outlet.forwarded.empty());

    outlet.elsewhere = true;
    BOOST_TEST(hub.listened());  // nobody here, but another instance: event texts are wanted
    hub.publish("acc", "s1", "e2");
    hub.publish("acc", "", "no session");  // no stream can ask for it
    BOOST_TEST_REQUIRE(outlet.forwarded.size() == 1u);
    BOOST_TEST(std::get<2>(outlet.forwarded[0]) == "e2");

    // What another instance published is delivered here and never sent back out.
    auto sub = hub.subscribe("acc", "s1", io.get_executor());
    BOOST_TEST(outlet.announcements == 1);
    hub.deliver("acc", "s1", "from elsewhere");
    io.run();
    BOOST_TEST(outlet.forwarded.size() == 1u);
    BOOST_TEST_REQUIRE(sub->queue().size() == 1u);
    BOOST_TEST(sub->queue().front() == "from elsewhere");
}

BOOST_AUTO_TEST_CASE(a_stream_stops_counting_when_it_lets_go) {
    boost::asio::io_context io;
    jobsd::server::notification_hub hub;
    auto a = hub.subscribe("acc", "s1", io.get_executor());
    auto b = hub.subscribe("acc", "s2", io.get_executor());
    BOOST_TEST(hub.subscribers() == 2u);
    BOOST_TEST(hub.listened());
    a.reset();
    BOOST_TEST(hub.subscribers() == 1u);  // at once, not at the next publish to its session
    b.reset();
    BOOST_TEST(hub.subscribers() == 0u);
    BOOST_TEST(!hub.listened());
}

// An account holds at most `per_account_max` streams, whatever their sessions; another account
// and, once one lets go, the same one may subscribe again. An account whose name begins with
// another's is counted apart.
BOOST_AUTO_TEST_CASE(an_account_holds_at_most_its_streams) {
    boost::asio::io_context io;
    jobsd::server::notification_hub hub;
    auto a = hub.subscribe("acc", "s1", io.get_executor(), 2);
    auto b = hub.subscribe("acc", "s2", io.get_executor(), 2);
    BOOST_TEST_REQUIRE((a && b));
    BOOST_TEST(!hub.subscribe("acc", "s3", io.get_executor(), 2));
    BOOST_TEST(!hub.subscribe("acc", "s1", io.get_executor(), 2));
    BOOST_TEST(hub.subscribers() == 2u);
    auto other = hub.subscribe("acc2", "s1", io.get_executor(), 2);
    BOOST_TEST(other != nullptr);
    a.reset();
    BOOST_TEST(hub.subscribe("acc", "s3", io.get_executor(), 2) != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

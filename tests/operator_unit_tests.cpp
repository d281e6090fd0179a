// Unit tests of the operator views' pure parts: the management API queue list turned into the
// per-type view, the management URL, the ingest history's rates and quantiles, the timed cache.
#define BOOST_TEST_MODULE operator_unit
#include <boost/test/unit_test.hpp>

#include <boost/json/serialize.hpp>

#include "server/ingest_history.hpp"
#include "server/management_client.hpp"
#include "server/queue_view.hpp"
#include "server/timed_cache.hpp"

using namespace jobsd::server;

namespace {

jobsd::queue::amqp_options two_types() {
    jobsd::queue::amqp_options o;
    o.job_types = {"video", "tts"};
    return o;
}

metrics::bucket_counts buckets(std::initializer_list<std::pair<std::size_t, std::uint64_t>> at) {
    metrics::bucket_counts b{};
    for (auto [i, n] : at) b[i] = n;
    return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(queue_view_parsing)

BOOST_AUTO_TEST_CASE(counts_come_from_the_named_queues_only) {
    const auto view = parse_management_queues(R"([
        {"name":"jobs.video","messages":7,"messages_ready":5,"messages_unacknowledged":2,"consumers":3},
        {"name":"jobs.dead.video","messages":4,"messages_ready":4,"messages_unacknowledged":0,"consumers":0},
        {"name":"other.video","messages":99,"messages_ready":99,"consumers":9},
        {"name":"jobsd.events","messages":1,"messages_ready":1}
    ])",
                                              two_types(), 1'700'000'000'000);
    BOOST_REQUIRE(view.has_value());
    BOOST_REQUIRE_EQUAL(view->types.size(), 2u);
    const auto& video = view->types[0];
    BOOST_TEST(video.job_type == "video");
    BOOST_TEST(video.declared);
    BOOST_TEST(video.ready == 5u);
    BOOST_TEST(video.unacked == 2u);
    BOOST_TEST(video.consumers == 3u);
    BOOST_TEST(video.dead_lettered == 4u);
    const auto& tts = view->types[1];  // not on the broker: listed, not declared, zeros
    BOOST_TEST(tts.job_type == "tts");
    BOOST_TEST(!tts.declared);
    BOOST_TEST(tts.ready == 0u);
}

BOOST_AUTO_TEST_CASE(counters_not_yet_computed_count_zero) {
    // A queue declared a moment ago is listed before the statistics collector has seen it.
    const auto view = parse_management_queues(R"([{"name":"jobs.tts","consumers":1}])", two_types(), 0);
    BOOST_REQUIRE(view.has_value());
    BOOST_TEST(view->types[1].declared);
    BOOST_TEST(view->types[1].ready == 0u);
    BOOST_TEST(view->types[1].consumers == 1u);
}

BOOST_AUTO_TEST_CASE(prefixes_follow_the_config) {
    auto o = two_types();
    o.queue_prefix = "t1.";
    o.dead_queue_prefix = "t1.dead.";
    const auto view = parse_management_queues(
        R"([{"name":"t1.tts","messages_ready":2},{"name":"t1.dead.tts","messages":1},{"name":"jobs.tts","messages_ready":50}])",
        o, 0);
    BOOST_REQUIRE(view.has_value());
    BOOST_TEST(view->types[1].queue == "t1.tts");
    BOOST_TEST(view->types[1].ready == 2u);
    BOOST_TEST(view->types[1].dead_lettered == 1u);
}

BOOST_AUTO_TEST_CASE(bodies_that_are_not_a_queue_list_fail_with_a_reason) {
    BOOST_TEST(!parse_management_queues("<html>", two_types(), 0).has_value());
    const auto obj = parse_management_queues(R"({"error":"not_authorised"})", two_types(), 0);
    BOOST_REQUIRE(!obj.has_value());
    BOOST_TEST(obj.error().find("not a list") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_names_every_field) {
    const auto view =
        parse_management_queues(R"([{"name":"jobs.video","messages_ready":1}])", two_types(), 0);
    const auto text = boost::json::serialize(to_json(*view));
    for (auto field : {"\"read_at\"", "\"queues\"", "\"job_type\":\"video\"", "\"ready\":1", "\"unacked\"",
                       "\"consumers\"", "\"dead_lettered\"", "\"declared\":true"})
        BOOST_TEST(text.find(field) != std::string::npos, field << " in " << text);
}

BOOST_AUTO_TEST_CASE(unknown_unacked_is_null_and_the_source_is_named) {
    auto view = parse_management_queues(R"([{"name":"jobs.video","messages_ready":1}])", two_types(), 0);
    BOOST_TEST(boost::json::serialize(to_json(*view)).find("\"source\":\"management\"") != std::string::npos);
    view->unacked_known = false;
    view->source = "passive_declare";
    const auto text = boost::json::serialize(to_json(*view));
    BOOST_TEST(text.find("\"unacked\":null") != std::string::npos, text);
    BOOST_TEST(text.find("\"source\":\"passive_declare\"") != std::string::npos, text);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(management_url)

BOOST_AUTO_TEST_CASE(base64_matches_rfc4648_vectors) {
    BOOST_TEST(base64_encode("") == "");
    BOOST_TEST(base64_encode("f") == "Zg==");
    BOOST_TEST(base64_encode("fo") == "Zm8=");
    BOOST_TEST(base64_encode("foo") == "Zm9v");
    BOOST_TEST(base64_encode("foob") == "Zm9vYg==");
    BOOST_TEST(base64_encode("fooba") == "Zm9vYmE=");
    BOOST_TEST(base64_encode("foobar") == "Zm9vYmFy");
}

BOOST_AUTO_TEST_CASE(credentials_host_and_default_vhost) {
    const auto e =
        parse_management_url("http://guest:guest@127.0.0.1:15673/", "amqp://guest:guest@127.0.0.1:5673/");
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->host == "127.0.0.1");
    BOOST_TEST(e->port == "15673");
    BOOST_TEST(e->authorization == "Basic Z3Vlc3Q6Z3Vlc3Q=");
    BOOST_TEST(e->target.starts_with("/api/queues/%2F?columns="));
    BOOST_TEST(e->where.find("guest") == std::string::npos);  // no credentials in messages
}

BOOST_AUTO_TEST_CASE(named_vhost_and_path_prefix) {
    const auto e = parse_management_url("http://u:p@broker:80/rabbit/", "amqp://u:p@broker:5672/prod");
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->target.starts_with("/rabbit/api/queues/prod?"));
}

BOOST_AUTO_TEST_CASE(other_schemes_are_refused) {
    BOOST_TEST(!parse_management_url("https://broker:15671/", "amqp://broker/").has_value());
    BOOST_TEST(!parse_management_url("broker:15672", "amqp://broker/").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ingest)

BOOST_AUTO_TEST_CASE(rates_and_requests_are_per_interval_differences) {
    ingest_history h(10);
    h.add({1'000, 100, buckets({{0, 10}})});
    h.add({2'000, 150, buckets({{0, 30}, {3, 2}})});
    h.add({4'000, 150, buckets({{0, 30}, {3, 2}})});
    const auto points = h.points();
    BOOST_REQUIRE_EQUAL(points.size(), 2u);
    BOOST_TEST(points[0].at_ms == 2'000);
    BOOST_TEST(points[0].jobs_per_second == 50.0);
    BOOST_TEST(points[0].requests == 22u);
    BOOST_TEST(points[1].jobs_per_second == 0.0);  // two seconds, nothing new
    BOOST_TEST(points[1].requests == 0u);
    BOOST_TEST(!points[1].p50_seconds.has_value());
}

BOOST_AUTO_TEST_CASE(the_ring_keeps_the_newest_samples) {
    ingest_history h(3);
    for (std::int64_t i = 1; i <= 5; ++i) h.add({i * 1'000, static_cast<std::uint64_t>(i * 10), {}});
    const auto points = h.points();
    BOOST_REQUIRE_EQUAL(points.size(), 2u);  // samples 3, 4, 5
    BOOST_TEST(points[0].at_ms == 4'000);
    BOOST_TEST(points[1].at_ms == 5'000);
    BOOST_TEST(points[1].jobs_per_second == 10.0);
}

BOOST_AUTO_TEST_CASE(quantiles_interpolate_inside_the_bucket) {
    // All 100 observations in the first bucket (0, 0.5 ms]: the median is half of its bound.
    const auto p50 = bucket_quantile(0.5, buckets({{0, 100}}));
    BOOST_REQUIRE(p50.has_value());
    BOOST_TEST(*p50 == 0.00025, boost::test_tools::tolerance(1e-12));
    // 90 fast, 10 in (5 ms, 10 ms]: p50 is fast, p99 lies inside the slow bucket.
    const auto mixed = buckets({{0, 90}, {4, 10}});
    BOOST_TEST(*bucket_quantile(0.5, mixed) <= 0.0005);
    const double p99 = *bucket_quantile(0.99, mixed);
    BOOST_TEST(p99 > 0.005);
    BOOST_TEST(p99 <= 0.01);
    // Past the last finite bound, the quantile is that bound.
    BOOST_TEST(*bucket_quantile(0.99, buckets({{13, 5}})) == 5.0);
    BOOST_TEST(!bucket_quantile(0.5, metrics::bucket_counts{}).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(timed_cache_expires_after_its_ttl) {
    timed_cache<int> cache(std::chrono::milliseconds(1000));
    const auto t0 = timed_cache<int>::clock::time_point{} + std::chrono::hours(1);
    BOOST_TEST(!cache.fresh(t0).has_value());
    cache.put(7, t0);
    BOOST_TEST(cache.fresh(t0 + std::chrono::milliseconds(999)).value_or(0) == 7);
    BOOST_TEST(!cache.fresh(t0 + std::chrono::milliseconds(1000)).has_value());
}

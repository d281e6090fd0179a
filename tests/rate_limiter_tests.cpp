// Unit tests of the token bucket and the per-account limiter, on a fake clock.
#define BOOST_TEST_MODULE rate_limiter
#include <boost/test/unit_test.hpp>

#include "server/rate_limiter.hpp"

using namespace jobsd::server;
using namespace std::chrono_literals;
using clock_type = token_bucket::clock;

BOOST_AUTO_TEST_CASE(burst_then_refusal_then_refill_at_the_rate) {
    const auto t0 = clock_type::time_point{} + 1h;
    token_bucket b(10, 20, t0);  // 10/s, burst 20
    for (int i = 0; i < 20; ++i) BOOST_REQUIRE(b.take(t0).allowed);
    auto refused = b.take(t0);
    BOOST_TEST(!refused.allowed);
    BOOST_TEST(refused.limit == 20u);
    BOOST_TEST(refused.remaining == 0u);
    BOOST_TEST(refused.retry_after_s == 1u);
    BOOST_TEST(refused.reset_s == 2u);  // 20 tokens at 10/s
    // 100 ms later one token is back, not two.
    BOOST_TEST(b.take(t0 + 100ms).allowed);
    BOOST_TEST(!b.take(t0 + 100ms).allowed);
    // A long pause refills only up to the burst.
    int allowed = 0;
    for (int i = 0; i < 100; ++i) allowed += b.take(t0 + 1h).allowed;
    BOOST_TEST(allowed == 20);
}

BOOST_AUTO_TEST_CASE(slow_rates_ask_for_a_longer_wait) {
    const auto t0 = clock_type::time_point{} + 1h;
    token_bucket b(0.2, 1, t0);  // one job per 5 s
    BOOST_TEST(b.take(t0).allowed);
    auto d = b.take(t0);
    BOOST_TEST(!d.allowed);
    BOOST_TEST(d.retry_after_s == 5u);
}

BOOST_AUTO_TEST_CASE(accounts_have_their_own_buckets) {
    rate_limiter limiter(1, 2);
    const auto t0 = clock_type::time_point{} + 1h;
    BOOST_TEST(limiter.take("a", t0).allowed);
    BOOST_TEST(limiter.take("a", t0).allowed);
    BOOST_TEST(!limiter.take("a", t0).allowed);
    BOOST_TEST(limiter.take("b", t0).allowed);
    BOOST_TEST(limiter.enabled());
    BOOST_TEST(!rate_limiter(0, 0).enabled());
}

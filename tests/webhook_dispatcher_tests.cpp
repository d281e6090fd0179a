// The webhook dispatcher against a fake of our own webhook_store (no HTTP, no database): its claims
// yield to ingestion while the store's writer is busy (webhooks.yield_writes), for at most a
// second at a time, and not at all when the writer keeps up. The timings asserted are lower bounds
// a busy machine can only lengthen, or bounds ten times wider than what they tell apart.
#define BOOST_TEST_MODULE webhook_dispatcher
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "server/webhooks/webhook_dispatcher.hpp"

using namespace jobsd;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Records when each claim came; has nothing due; every other member completes empty.
class fake_store final : public store::webhook_store {
  public:
    std::vector<clock_type::time_point> claims() {
        std::lock_guard lock(mutex_);
        return claims_;
    }

    void claim_deliveries(store::claim_request,
                          store::webhook_handler<std::vector<store::due_delivery>> handler) override {
        {
            std::lock_guard lock(mutex_);
            claims_.push_back(clock_type::now());
        }
        std::move(handler)(store::error_code{}, std::vector<store::due_delivery>{});
    }
    void release_claims(store::webhook_handler<std::size_t> handler) override {
        std::move(handler)(store::error_code{}, std::size_t{0});
    }
    void finish_attempts(std::vector<store::attempt_record>,
                         store::webhook_handler<std::size_t> handler) override {
        std::move(handler)(store::error_code{}, std::size_t{0});
    }
    void create_endpoint(store::webhook_endpoint, std::string,
                         store::webhook_handler<bool> handler) override {
        std::move(handler)(store::error_code{}, false);
    }
    void list_endpoints(std::string,
                        store::webhook_handler<std::vector<store::webhook_endpoint>> handler) override {
        std::move(handler)(store::error_code{}, std::vector<store::webhook_endpoint>{});
    }
    void delete_endpoint(std::string, std::string, store::webhook_handler<bool> handler) override {
        std::move(handler)(store::error_code{}, false);
    }
    void account_secret(std::string, std::string candidate,
                        store::webhook_handler<std::string> handler) override {
        std::move(handler)(store::error_code{}, std::move(candidate));
    }
    void rotate_secret(std::string, std::string, std::string, std::int64_t, std::int64_t,
                       store::webhook_handler<bool> handler) override {
        std::move(handler)(store::error_code{}, false);
    }
    void list_deliveries(
        std::string, std::string, std::size_t,
        store::webhook_handler<std::optional<std::vector<store::delivery_info>>> handler) override {
        std::move(handler)(store::error_code{}, std::nullopt);
    }
    void redeliver(std::string, std::string, std::int64_t, store::webhook_handler<bool> handler) override {
        std::move(handler)(store::error_code{}, false);
    }
    void read_webhook_stats(std::int64_t, store::webhook_handler<store::webhook_stats> handler) override {
        std::move(handler)(store::error_code{}, store::webhook_stats{});
    }
    void recent_attempts(std::size_t,
                         store::webhook_handler<std::vector<store::recent_attempt>> handler) override {
        std::move(handler)(store::error_code{}, std::vector<store::recent_attempt>{});
    }

  private:
    std::mutex mutex_;
    std::vector<clock_type::time_point> claims_;
};

// A dispatcher polling every 50 ms on a thread of its own, told `writes` writes wait.
struct dispatcher_world {
    server::webhooks::webhook_options options;
    fake_store store;
    std::atomic<std::uint64_t> writes{0};
    boost::asio::io_context ioc;
    std::unique_ptr<server::webhooks::webhook_dispatcher> dispatcher;
    std::thread thread;
    clock_type::time_point started;

    explicit dispatcher_world(std::uint64_t waiting) : writes(waiting) {
        options.poll_interval = 50ms;
        dispatcher = std::make_unique<server::webhooks::webhook_dispatcher>(
            options, store, std::vector<boost::asio::io_context*>{&ioc}, [this] { return writes.load(); });
        auto guard =
            std::make_shared<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
                ioc.get_executor());
        started = clock_type::now();
        dispatcher->start();
        thread = std::thread([this, guard] { ioc.run(); });
    }
    ~dispatcher_world() {
        dispatcher->stop();
        ioc.stop();
        thread.join();
    }

    // Waits (up to 30 s) until the store has seen `n` claims; returns their times.
    std::vector<clock_type::time_point> wait_for_claims(std::size_t n) {
        const auto deadline = clock_type::now() + 30s;
        while (store.claims().size() < n && clock_type::now() < deadline) std::this_thread::sleep_for(10ms);
        return store.claims();
    }
};

double seconds(clock_type::duration d) {
    return std::chrono::duration<double>(d).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(claims_wait_while_the_writer_is_busy_at_most_a_second_at_a_time) {
    dispatcher_world w(1000);  // far above yield_writes (4): ingestion keeps the writer busy
    const auto claims = w.wait_for_claims(2);
    BOOST_REQUIRE_EQUAL(claims.size(), 2u);
    // Each claim came only after a second of waiting (never sooner: a busy machine only delays).
    BOOST_TEST(seconds(claims[0] - w.started) >= 0.99);
    BOOST_TEST(seconds(claims[1] - claims[0]) >= 0.99);
    BOOST_TEST(w.dispatcher->stats().yielded_ms.load() >= 990u);
}

BOOST_AUTO_TEST_CASE(claims_do_not_wait_while_the_writer_keeps_up) {
    dispatcher_world w(3);  // a few writes waiting: under yield_writes
    const auto claims = w.wait_for_claims(12);
    BOOST_REQUIRE_EQUAL(claims.size(), 12u);
    // Nothing was counted as yielded (a sampling window is not a yield), and the claims came at
    // the poll's pace: eleven intervals in far less than the eleven seconds yielding would take.
    BOOST_TEST(w.dispatcher->stats().yielded_ms.load() == 0u);
    BOOST_TEST(seconds(claims[11] - claims[0]) < 11.0);
}

// The webhook dispatcher against a fake of our own webhook_store (no database): its claims yield
// to ingestion while the store's writer is busy (webhooks.yield_writes), for at most a second at a
// time, and not at all when the writer keeps up; a busy destination is claimed for again before
// its queue runs dry (deliveries sent over HTTP to the test's receiver on loopback); a name lookup
// that hangs delays no other (host_resolver, with a lookup function of the test's). The timings
// asserted are lower bounds a busy machine can only lengthen, or bounds ten times wider than what
// they tell apart.
#define BOOST_TEST_MODULE webhook_dispatcher
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "model/webhook_signature.hpp"
#include "server/webhooks/host_resolver.hpp"
#include "server/webhooks/webhook_dispatcher.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace jobsd;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// What a claim saw: when it came, whether it skipped the due destination, and how many of that
// destination's deliveries the dispatcher was sending at that moment.
struct claim_seen {
    clock_type::time_point at;
    bool skipped = false;
    std::int64_t in_flight = 0;
};

// Records each claim; hands out `due` deliveries to one destination (none by default), as many
// as a claim asks for; every other member completes empty.
class fake_store final : public store::webhook_store {
  public:
    std::vector<clock_type::time_point> claims() {
        std::lock_guard lock(mutex_);
        std::vector<clock_type::time_point> out;
        for (const auto& c : seen_) out.push_back(c.at);
        return out;
    }
    std::vector<claim_seen> seen() {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    // `n` deliveries to `url`, one destination; `in_flight` reads the dispatcher's attempts now.
    void make_due(std::size_t n, std::string url, std::function<std::int64_t()> in_flight) {
        std::lock_guard lock(mutex_);
        due_left_ = n;
        url_ = std::move(url);
        in_flight_ = std::move(in_flight);
    }

    void claim_deliveries(store::claim_request r,
                          store::webhook_handler<std::vector<store::due_delivery>> handler) override {
        std::vector<store::due_delivery> due;
        {
            std::lock_guard lock(mutex_);
            claim_seen c{clock_type::now(), false, in_flight_ ? in_flight_() : 0};
            c.skipped = std::find(r.skip.begin(), r.skip.end(), dest) != r.skip.end();
            seen_.push_back(c);
            while (!c.skipped && due_left_ > 0 && due.size() < std::min(r.limit, r.per_dest)) {
                --due_left_;
                due.push_back(delivery(next_++));
            }
        }
        std::move(handler)(store::error_code{}, std::move(due));
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

    static constexpr std::string_view dest = "receiver";

  private:
    store::due_delivery delivery(int n) const {
        store::due_delivery d;
        d.id = "msg_" + std::to_string(n);
        d.account_id = "acc_test";
        d.url = url_;
        d.dest = std::string(dest);
        d.event = "job.succeeded";
        d.event_ms = 1;
        d.secret_owner = "account:acc_test";
        d.secret = secret_;
        store::job_record job;
        job.uuid = "job-" + std::to_string(n);
        job.account_id = d.account_id;
        job.input = "{}";
        d.job = std::move(job);
        return d;
    }

    std::mutex mutex_;
    std::vector<claim_seen> seen_;
    std::size_t due_left_ = 0;
    int next_ = 0;
    std::string url_;
    const std::string secret_ = model::new_webhook_secret();
    std::function<std::int64_t()> in_flight_;
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

    // With `due` deliveries to `receiver_url` (loopback allowed) for one destination.
    explicit dispatcher_world(std::uint64_t waiting, std::size_t due = 0, std::string receiver_url = {})
        : writes(waiting) {
        options.poll_interval = 50ms;
        options.allow = {"127.0.0.1/32"};
        if (due > 0)
            store.make_due(due, std::move(receiver_url),
                           [this] { return dispatcher->stats().in_flight.load(); });
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

// A receiver answering each delivery after a second: a claim asked while all of its per_endpoint
// slots are busy must still take its deliveries (it holds fewer than twice that many), so the
// next ones are queued before the slots free up; claiming only once the queue ran dry would
// leave the receiver idle for a claim's round trip (and a 20 ms gathering pause) every time.
BOOST_AUTO_TEST_CASE(a_busy_destination_is_claimed_for_before_its_queue_runs_dry) {
    jobsd::test::webhook_receiver receiver([](const jobsd::test::received_webhook&, std::size_t) {
        std::this_thread::sleep_for(1s);
        return std::optional<int>(204);
    });
    constexpr std::size_t due = 48;
    dispatcher_world w(0, due, receiver.url());
    const auto per_endpoint = static_cast<std::int64_t>(w.options.per_endpoint);
    const auto got = receiver.wait_for(due, 60s);
    BOOST_REQUIRE_EQUAL(got.size(), due);
    bool ahead = false;
    for (const auto& c : w.store.seen()) {
        BOOST_TEST_MESSAGE("claim: skipped " << c.skipped << ", in flight " << c.in_flight);
        ahead = ahead || (!c.skipped && c.in_flight >= per_endpoint);
    }
    BOOST_TEST(ahead);
    // Never more than per_endpoint at once at the receiver, however many are queued.
    BOOST_TEST(receiver.max_open_connections() <= w.options.per_endpoint);
}

// Name lookups (server/webhooks/host_resolver.hpp) with a lookup of the test's own: one that
// hangs (a receiver whose name servers never answer) delays no other, and its waiter gives up at
// its deadline.
namespace {

namespace asio = boost::asio;
using jobsd::server::webhooks::host_resolver;

// A lookup function whose "stuck" hosts block until released; it counts the lookups it made.
struct scripted_lookups {
    std::mutex mu;
    std::condition_variable cv;
    bool released = false;
    std::vector<std::string> made;  // guarded by mu

    host_resolver::lookup_fn fn() {
        return [this](const std::string& host, const std::string& port, boost::system::error_code&) {
            std::unique_lock lock(mu);
            made.push_back(host);
            if (host.starts_with("stuck")) cv.wait(lock, [this] { return released; });
            return host_resolver::endpoints{
                {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port))}};
        };
    }
    void release() {
        std::lock_guard lock(mu);
        released = true;
        cv.notify_all();
    }
    std::size_t count(const std::string& host) {
        std::lock_guard lock(mu);
        return static_cast<std::size_t>(std::count(made.begin(), made.end(), host));
    }
};

// Resolves on `ioc`, recording the answer and the order answers came in.
struct lookup_result {
    boost::system::error_code ec;
    std::size_t found = 0;
    int order = 0;
};

void spawn_lookup(asio::io_context& ioc, host_resolver& r, std::string host,
                  std::chrono::milliseconds timeout, lookup_result& out, int& answers) {
    asio::co_spawn(
        ioc,
        [&r, &out, &answers, host = std::move(host), timeout]() -> asio::awaitable<void> {
            auto [ec, found] = co_await r.resolve(host, "8080", timeout);
            out = {ec, found.size(), ++answers};
        },
        asio::detached);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_lookup_that_never_answers_delays_no_other_and_ends_at_its_deadline) {
    scripted_lookups lookups;
    asio::io_context ioc;
    auto busy = asio::make_work_guard(ioc);  // run_for() waits, never stops for want of work
    lookup_result stuck, fast;
    int answers = 0;
    {
        host_resolver resolver(2, lookups.fn());
        spawn_lookup(ioc, resolver, "stuck.example", 1500ms, stuck, answers);
        ioc.run_for(100ms);  // the stuck lookup has begun on one of the two threads
        spawn_lookup(ioc, resolver, "fast.example", 30s, fast, answers);
        const auto started = std::chrono::steady_clock::now();
        while (answers < 2 && std::chrono::steady_clock::now() - started < 30s) ioc.run_for(50ms);
        lookups.release();  // lets the pool's thread end, so the resolver can be destroyed
    }
    BOOST_TEST(!fast.ec, fast.ec.message());
    BOOST_TEST(fast.found == 1u);
    BOOST_TEST(fast.order == 1, "the answer for a working host waited behind the stuck lookup");
    BOOST_TEST((stuck.ec == asio::error::timed_out), stuck.ec.message());
    BOOST_TEST(stuck.order == 2);
}

BOOST_AUTO_TEST_CASE(a_lookup_whose_waiter_gave_up_before_it_began_is_never_made) {
    scripted_lookups lookups;
    asio::io_context ioc;
    auto busy = asio::make_work_guard(ioc);
    lookup_result stuck, queued, after;
    int answers = 0;
    host_resolver resolver(1, lookups.fn());
    spawn_lookup(ioc, resolver, "stuck.example", 200ms, stuck, answers);
    ioc.run_for(50ms);
    spawn_lookup(ioc, resolver, "queued.example", 200ms, queued, answers);  // behind it on the one thread
    auto started = std::chrono::steady_clock::now();
    while (answers < 2 && std::chrono::steady_clock::now() - started < 30s) ioc.run_for(50ms);
    BOOST_TEST((queued.ec == asio::error::timed_out), queued.ec.message());
    lookups.release();
    // The one thread takes lookups in order: once "after" is answered, "queued" had its turn.
    spawn_lookup(ioc, resolver, "after.example", 30s, after, answers);
    started = std::chrono::steady_clock::now();
    while (answers < 3 && std::chrono::steady_clock::now() - started < 30s) ioc.run_for(50ms);
    BOOST_TEST(!after.ec, after.ec.message());
    BOOST_TEST(after.order == 3);
    BOOST_TEST(after.found == 1u);
    BOOST_TEST(lookups.count("stuck.example") == 1u);
    BOOST_TEST(lookups.count("queued.example") == 0u);
    BOOST_TEST(lookups.count("after.example") == 1u);
}

// The webhook dispatcher against a fake of our own webhook_store (no database): its claims yield
// to ingestion while the store's writer is busy (webhooks.yield_writes) or while jobs are created
// on a machine with no idle CPU (webhooks.yield_idle_percent), for at most a second at a time,
// and not at all when the writer keeps up or nothing is created; a busy destination is claimed for again
// before its queue runs dry (deliveries sent over HTTP to the test's receiver on loopback). The timings
// asserted are lower bounds a busy machine can only lengthen, or bounds ten times wider than what
// they tell apart.
#define BOOST_TEST_MODULE webhook_dispatcher
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "model/webhook_signature.hpp"
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
    std::atomic<std::uint64_t> jobs{0};  // jobs created so far, as the store would count them
    boost::asio::io_context ioc;
    std::unique_ptr<server::webhooks::webhook_dispatcher> dispatcher;
    std::thread thread;
    clock_type::time_point started;

    // With `due` deliveries to `receiver_url` (loopback allowed) for one destination.
    explicit dispatcher_world(std::uint64_t waiting, std::size_t due = 0, std::string receiver_url = {},
                              std::size_t yield_writes = 4)
        : writes(waiting) {
        options.poll_interval = 50ms;
        options.yield_writes = yield_writes;
        options.allow = {"127.0.0.1/32"};
        if (due > 0)
            store.make_due(due, std::move(receiver_url),
                           [this] { return dispatcher->stats().in_flight.load(); });
        dispatcher = std::make_unique<server::webhooks::webhook_dispatcher>(
            options, store, std::vector<boost::asio::io_context*>{&ioc}, [this] {
                store::store_stats st;
                st.write_queue = writes.load();
                st.jobs_committed = jobs.load();
                return st;
            });
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

namespace {

// Keeps every CPU of the machine busy while it lives, so that /proc/stat shows (almost) no idle
// time; optionally counts jobs "created" at 20 000 a second meanwhile.
struct saturated_machine {
    std::atomic<bool> stop{false};
    std::vector<std::thread> spinners;
    saturated_machine(std::atomic<std::uint64_t>* jobs = nullptr) {
        const unsigned n = std::max(1u, std::thread::hardware_concurrency());
        for (unsigned i = 0; i < n; ++i)
            spinners.emplace_back([this, jobs, creator = i == 0] {
                auto next = clock_type::now();
                while (!stop.load(std::memory_order_relaxed))
                    if (creator && jobs && clock_type::now() >= next) {
                        jobs->fetch_add(20);
                        next += 1ms;
                    }
            });
    }
    ~saturated_machine() {
        stop = true;
        for (auto& t : spinners) t.join();
    }
};

server::webhooks::load_sample sample_at(double seconds_in, std::uint64_t jobs, std::uint64_t idle,
                                        std::uint64_t total) {
    server::webhooks::load_sample s;
    s.at = clock_type::time_point{} +
           std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds_in));
    s.jobs = jobs;
    s.cpu = server::webhooks::cpu_times{idle, total};
    return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(proc_stat_gives_the_machines_idle_and_total_time) {
    using server::webhooks::parse_cpu_times;
    const auto t = parse_cpu_times("cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 50 2 25 400 10 1 1 5 3 0\n");
    BOOST_TEST_REQUIRE(t.has_value());
    BOOST_TEST(t->idle == 820u);                           // idle and iowait
    BOOST_TEST(t->total == 990u);                          // the first eight fields (guest is inside user)
    const auto old = parse_cpu_times("cpu  1 2 3 4 5\n");  // an old kernel: up to iowait only
    BOOST_TEST_REQUIRE(old.has_value());
    BOOST_TEST(old->idle == 9u);
    BOOST_TEST(old->total == 15u);
    BOOST_TEST(!parse_cpu_times("cpu  1 2 3 4\n"));          // no iowait: too short to trust
    BOOST_TEST(!parse_cpu_times("cpu0 1 2 3 4 5 6 7 8\n"));  // not the aggregate line
    BOOST_TEST(!parse_cpu_times("cpu  1 2 x 4 5\n"));
    BOOST_TEST(!parse_cpu_times(""));
    BOOST_TEST(server::webhooks::read_cpu_times().has_value());  // this machine's, read now
}

BOOST_AUTO_TEST_CASE(creates_are_short_of_cpu_only_while_created_fast_on_a_machine_without_idle) {
    using server::webhooks::creates_short_of_cpu;
    const auto from = sample_at(10.0, 1000, 5000, 20000);
    // 100 ms: 500 jobs (5 000/s), 5 % idle.
    BOOST_TEST(creates_short_of_cpu(from, sample_at(10.1, 1500, 5010, 20200), 15));
    BOOST_TEST(!creates_short_of_cpu(from, sample_at(10.1, 1500, 5010, 20200), 0));  // off
    BOOST_TEST(!creates_short_of_cpu(from, sample_at(10.1, 1500, 5010, 20200), 5));  // 5 % is not under 5
    // 40 % idle: there is room for deliveries.
    BOOST_TEST(!creates_short_of_cpu(from, sample_at(10.1, 1500, 5080, 20200), 15));
    // 10 jobs in 100 ms (100/s): under yield_min_creates_per_second, whatever the CPU.
    BOOST_TEST(!creates_short_of_cpu(from, sample_at(10.1, 1010, 5000, 20200), 15));
    // No creates at all: deliveries alone never wait.
    BOOST_TEST(!creates_short_of_cpu(from, sample_at(10.1, 1000, 5000, 20200), 15));
    // Looks out of order, or without CPU times.
    BOOST_TEST(!creates_short_of_cpu(sample_at(10.1, 1500, 5010, 20200), from, 15));
    auto blind = sample_at(10.1, 1500, 5010, 20200);
    blind.cpu.reset();
    BOOST_TEST(!creates_short_of_cpu(from, blind, 15));
}

// The writer keeps up (no writes waiting, yield_writes off): what holds the claims back is jobs
// being created while the machine has no idle CPU, a second at a time.
BOOST_AUTO_TEST_CASE(claims_wait_while_jobs_are_created_on_a_machine_without_idle_cpu) {
    dispatcher_world w(0, 0, {}, 0);
    saturated_machine busy(&w.jobs);
    const auto claims = w.wait_for_claims(4);
    BOOST_REQUIRE_EQUAL(claims.size(), 4u);
    // The first claims come before a CPU window (100 ms) has ended; from then on each one
    // waited a second.
    BOOST_TEST(seconds(claims[2] - claims[1]) >= 0.99);
    BOOST_TEST(seconds(claims[3] - claims[2]) >= 0.99);
    BOOST_TEST(w.dispatcher->stats().yielded_ms.load() >= 1980u);
}

// The same machine with no idle CPU, but no jobs created: the dispatcher's own load (here the
// test's spinners) never makes it wait, so a backlog drains at full speed.
BOOST_AUTO_TEST_CASE(claims_do_not_wait_on_a_busy_machine_when_nothing_is_created) {
    dispatcher_world w(0, 0, {}, 0);
    saturated_machine busy;
    const auto claims = w.wait_for_claims(12);
    BOOST_REQUIRE_EQUAL(claims.size(), 12u);
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

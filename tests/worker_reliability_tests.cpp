// Issue 14, items 10 and 11: the worker runtime in this process (with handlers of the test's own)
// against the real test RabbitMQ node. An outcome event the broker cannot route is not lost: the
// job stays unacked and the event is sent again once a route exists. A job queued behind a
// handler that ignores its stop does not wait for ever: it is released, and the handler is
// logged as abandoned. Jobs done are acked (several with one multiple ack where they can be), never
// one still running before them.
#define BOOST_TEST_MODULE worker_reliability_tests
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/job_message.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/status_events.hpp"
#include "worker/worker_runtime.hpp"

namespace json = boost::json;
using namespace jobsd;
using namespace jobsd::test;
using namespace std::chrono_literals;

namespace {

worker::worker_options options_for(const topology_names& names) {
    worker::worker_options o;
    o.job_type = "video";
    o.amqp.urls = {test_broker_url()};
    o.amqp.exchange = names.exchange();
    o.amqp.queue_prefix = names.prefix;
    o.amqp.dead_exchange = names.dead_exchange();
    o.amqp.dead_queue_prefix = names.prefix + "dead.";
    o.amqp.events_exchange = names.events_exchange();
    o.amqp.events_queue = names.events_queue();
    o.amqp.retry_delay = 200ms;
    o.amqp.reconnect_max = 500ms;
    return o;
}

// Waits until the worker declared its job queue and jobsd's events queue: a job published
// before its queue exists is dropped by the exchange.
void wait_for_topology(amqp_client& broker, const topology_names& names) {
    BOOST_TEST_REQUIRE(wait_until(
        [&] {
            return broker.message_count(names.queue("video")).has_value() &&
                   broker.message_count(names.events_queue()).has_value();
        },
        30s));
}

// A new video job's message, as jobsd makes it (the contract jobsd speaks today), with a
// deadline when given.
queue::job_message video_job_message(std::optional<std::int64_t> expires_at_ms = std::nullopt) {
    model::job j;
    j.expires_at_ms = expires_at_ms;
    j.uuid = model::new_uuid();
    j.type = model::job_type::video;
    j.account_id = "acc_a";
    j.source_id = "project-1";
    j.input = R"({"job_type":"video"})";
    j.created_ms = model::now_ms();
    return queue::make_job_message(j);
}

// Publishes a job message of the contract to the job exchange, as jobsd would: mandatory and
// confirmed, again until the broker routed it. Seeing the job queue declared does not mean it is
// bound yet (a worker binds it after declaring it; on a busy node that takes a while), and an
// unroutable message sent without mandatory vanishes, leaving the test waiting for nothing.
std::string publish_job(const topology_names& names,
                        std::optional<std::int64_t> expires_at_ms = std::nullopt) {
    const auto m = video_job_message(expires_at_ms);
    queue::amqp_connection conn(test_broker_url(), 5s, 0);
    conn.confirm_select();
    const auto state = conn.state();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.message_id = amqp_cstring_bytes(m.uuid.c_str());
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        const int rc = amqp_basic_publish(
            state, queue::amqp_connection::channel, amqp_cstring_bytes(names.exchange().c_str()),
            amqp_cstring_bytes("video"), 1, 0, &props, {m.body.size(), const_cast<char*>(m.body.data())});
        if (rc != AMQP_STATUS_OK) throw std::runtime_error("publishing a test job failed");
        // A return (unroutable) comes before the ack; the ack settles the attempt.
        bool routed = true;
        for (;;) {
            amqp_frame_t frame;
            timeval timeout{10, 0};
            if (amqp_simple_wait_frame_noblock(state, &frame, &timeout) != AMQP_STATUS_OK)
                throw std::runtime_error("no confirm for a test job within 10 s");
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;
            const auto id = frame.payload.method.id;
            if (id == AMQP_BASIC_RETURN_METHOD) {
                routed = false;
                amqp_message_t returned;
                if (amqp_read_message(state, frame.channel, &returned, 0).reply_type == AMQP_RESPONSE_NORMAL)
                    amqp_destroy_message(&returned);
            } else if (id == AMQP_BASIC_ACK_METHOD || id == AMQP_BASIC_NACK_METHOD) {
                routed = routed && id == AMQP_BASIC_ACK_METHOD;
                break;
            }
        }
        if (routed) return m.uuid;
        std::this_thread::sleep_for(200ms);
    }
    throw std::runtime_error("the test job stayed unroutable for 30 s: the job queue was never bound");
}

// Declares jobsd's events queue and its binding, as jobsd or any worker does at connect.
void declare_events_queue(const topology_names& names) {
    queue::amqp_connection conn(test_broker_url(), 5s, 0);
    queue::amqp_arguments args;
    args.add("x-queue-type", std::string("quorum"));
    conn.declare_queue(names.events_queue(), args);
    conn.bind_queue(names.events_queue(), names.events_exchange(), "#");
}

struct instant_handler final : worker::job_handler {
    worker::job_outcome run(const worker::job_input&, worker::progress_reporter&, std::stop_token) override {
        return worker::job_outcome::success(json::object{{"done", true}});
    }
};

// Blocks every job until released, deaf to its stop token: a stuck handler.
struct stuck_handler final : worker::job_handler {
    worker::job_outcome run(const worker::job_input&, worker::progress_reporter&, std::stop_token) override {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return released; });
        return worker::job_outcome::success({});
    }
    void release() {
        {
            std::lock_guard lock(mu);
            released = true;
        }
        cv.notify_all();
    }
    std::mutex mu;
    std::condition_variable cv;
    bool released = false;
};

// Lets a stuck_handler go when it leaves scope. Declared after the worker, so it runs first: the
// worker's stop joins the handler's thread, which must be let go to end.
struct release_on_exit {
    stuck_handler& h;
    ~release_on_exit() { h.release(); }
};

// Holds the job named `held` until the worker stops it; every other job succeeds at once.
struct holding_handler final : worker::job_handler {
    explicit holding_handler(std::string uuid) : held(std::move(uuid)) {}
    worker::job_outcome run(const worker::job_input& job, worker::progress_reporter&,
                            std::stop_token stop) override {
        if (job.uuid != held) return worker::job_outcome::success({});
        std::unique_lock lock(mu);
        holding = true;
        cv.wait(lock, stop, [] { return false; });
        return worker::job_outcome::failure("stopped");
    }
    bool is_holding() {
        std::lock_guard lock(mu);
        return holding;
    }
    const std::string held;
    std::mutex mu;
    std::condition_variable_any cv;
    bool holding = false;
};

// Runs a worker runtime on a thread of its own; stops and joins it on destruction.
class running_worker {
  public:
    running_worker(worker::worker_options o, worker::job_handler& h)
        : runtime_(std::move(o), h, "test:1"), thread_([this] { runtime_.run(); }) {}
    ~running_worker() {
        runtime_.stop();
        runtime_.stop();  // the second stop: now, whatever is in hand
        thread_.join();
    }
    const worker::worker_stats& stats() const { return runtime_.stats(); }

  private:
    worker::worker_runtime runtime_;
    std::thread thread_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_unroutable_outcome_keeps_its_job_unacked_until_it_is_delivered) {
    auto broker = connect_test_broker();
    const topology_names names("wunroutable");
    topology_cleanup cleanup(names);
    instant_handler handler;
    running_worker w(options_for(names), handler);
    wait_for_topology(*broker, names);
    const auto probe = publish_job(names);
    BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().acked == 1; }, 30s),
                       "the probe job was not done: received "
                           << w.stats().received << ", succeeded " << w.stats().succeeded
                           << ", events published " << w.stats().events_published << ", confirmed "
                           << w.stats().events_confirmed << ", ready in its queue "
                           << broker->message_count(names.queue("video")).value_or(0));
    const auto probe_events = statuses_of(broker->drain(names.events_queue(), 500ms), probe);
    BOOST_TEST_REQUIRE((!probe_events.empty() && probe_events.back() == "SUCCESS"));

    // The events binding disappears (the queue deleted by hand): the outcome has no route.
    broker->delete_queue(names.events_queue());
    const auto job = publish_job(names);
    BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().succeeded == 2; }, 30s));
    std::this_thread::sleep_for(1s);
    declare_events_queue(names);  // whoever declares it first, the route exists again
    BOOST_TEST(wait_until([&] { return w.stats().acked == 2; }, 30s), "the job was never acked");
    const auto statuses = statuses_of(broker->drain(names.events_queue(), 1s), job);
    BOOST_TEST((std::find(statuses.begin(), statuses.end(), "SUCCESS") != statuses.end()),
               "the job's SUCCESS event was lost (" << statuses.size() << " events of it arrived)");
    BOOST_TEST(w.stats().events_returned >= 1u);
}

BOOST_AUTO_TEST_CASE(a_job_queued_behind_a_stuck_handler_is_released_not_held_for_ever) {
    auto broker = connect_test_broker();
    const topology_names names("wstuck");
    topology_cleanup cleanup(names);
    stuck_handler handler;
    auto o = options_for(names);
    o.concurrency = 1;
    o.timeout = 1000ms;
    o.amqp.delivery_limit = 2;
    {
        running_worker w(o, handler);
        release_on_exit release{handler};
        wait_for_topology(*broker, names);
        const auto first = publish_job(names);
        const auto second = publish_job(names);
        // The first job runs and times out (its handler never returns); the second waits for the
        // only thread. It must leave the worker: released, and after its delivery limit
        // dead-lettered.
        BOOST_TEST(wait_until([&] { return w.stats().timed_out >= 1; }, 20s));
        BOOST_TEST(wait_until([&] { return w.stats().released >= 1; }, 20s),
                   "the job queued behind the stuck handler was never released");
        BOOST_TEST(
            wait_until([&] { return broker->message_count(names.dead_queue("video")).value_or(0) >= 1; },
                       30s),
            "the held job never reached the dead-letter queue");
        BOOST_TEST(w.stats().abandoned >= 1u, "the stuck handler was not reported abandoned");
        const auto dead = broker->drain(names.dead_queue("video"), 500ms);
        BOOST_TEST_REQUIRE(dead.size() >= 1u);
        BOOST_TEST(dead.front().message_id == second);
        const auto events = statuses_of(broker->drain(names.events_queue(), 500ms), first);
        BOOST_TEST((!events.empty() && events.back() == "FAILED"));
    }
}

// A job that arrives before its deadline but waits for the only thread until past it is not
// started: it ends EXPIRED, as one that arrived late does, and its handler never runs.
BOOST_AUTO_TEST_CASE(a_job_whose_deadline_passes_while_it_waits_for_a_thread_is_expired_not_run) {
    auto broker = connect_test_broker();
    const topology_names names("wlate");
    topology_cleanup cleanup(names);
    stuck_handler handler;
    auto o = options_for(names);
    o.concurrency = 1;
    o.prefetch = 2;
    running_worker w(o, handler);
    release_on_exit release{handler};
    wait_for_topology(*broker, names);
    const auto first = publish_job(names);
    const auto second = publish_job(names, model::now_ms() + 1500);
    BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().received == 2; }, 30s),
                       "received " << w.stats().received);
    BOOST_TEST(w.stats().expired == 0u);  // it arrived in time
    std::this_thread::sleep_for(2s);
    handler.release();
    BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().acked == 2; }, 30s), "acked " << w.stats().acked);
    const auto events = broker->drain(names.events_queue(), 1s);
    BOOST_TEST(statuses_of(events, second) == std::vector<std::string>{"EXPIRED"});
    const auto first_events = statuses_of(events, first);
    BOOST_TEST((!first_events.empty() && first_events.back() == "SUCCESS"));
    BOOST_TEST(w.stats().expired == 1u);
    BOOST_TEST(w.stats().succeeded == 1u);
}

// The prefetch is how many deliveries the worker holds: with it above the concurrency the ones
// beyond the threads wait in the worker (and all run once a thread is free); without it, the
// worker holds only as many as it has threads and the rest stay ready in the queue.
BOOST_AUTO_TEST_CASE(the_prefetch_sets_how_many_deliveries_the_worker_holds) {
    auto broker = connect_test_broker();
    for (const unsigned prefetch : {0u, 3u}) {
        BOOST_TEST_CONTEXT("--prefetch " << prefetch) {
            const topology_names names(prefetch == 0 ? "wprefetch0" : "wprefetch3");
            topology_cleanup cleanup(names);
            stuck_handler handler;
            auto o = options_for(names);
            o.concurrency = 1;
            o.prefetch = prefetch;
            running_worker w(o, handler);
            release_on_exit release{handler};
            wait_for_topology(*broker, names);
            for (int i = 0; i < 4; ++i) publish_job(names);
            const std::uint64_t held = o.effective_prefetch();  // 1 (the concurrency) or 3
            const auto ready = [&] { return broker->message_count(names.queue("video")).value_or(0); };
            BOOST_TEST_REQUIRE(
                wait_until([&] { return w.stats().received == held && ready() == 4 - held; }, 30s),
                "received " << w.stats().received << ", ready " << ready());
            std::this_thread::sleep_for(500ms);  // and no more while the one thread is busy
            BOOST_TEST(w.stats().received == held);
            BOOST_TEST(ready() == 4 - held);
            handler.release();
            BOOST_TEST(wait_until([&] { return w.stats().acked == 4; }, 30s),
                       "acked " << w.stats().acked << " of 4");
        }
    }
}

// Contract 3: the events of jobs that arrive together share messages (a batch per linger), and
// each job is still acked only once the message with its outcome is confirmed. With
// --event-batch 1 every event is a message of its own, as for contract 2.
BOOST_AUTO_TEST_CASE(events_of_contract_3_jobs_share_messages_and_every_job_is_acked_once_confirmed) {
    auto broker = connect_test_broker();
    for (const std::size_t event_batch : {std::size_t{64}, std::size_t{1}}) {
        BOOST_TEST_CONTEXT("--event-batch " << event_batch) {
            const topology_names names(event_batch == 1 ? "wbatch1" : "wbatch");
            topology_cleanup cleanup(names);
            instant_handler handler;
            auto o = options_for(names);
            o.concurrency = 8;
            o.event_batch = event_batch;
            o.event_linger = 50ms;  // long enough that jobs delivered together share one
            running_worker w(o, handler);
            wait_for_topology(*broker, names);
            std::set<std::string> jobs{publish_job(names)};  // routed: the queue is bound
            BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().acked == 1; }, 30s));
            for (int i = 0; i < 40; ++i) {
                const auto m = video_job_message();
                broker->publish(names.exchange(), "video", m.body, m.uuid);
                jobs.insert(m.uuid);
            }
            BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().acked == jobs.size(); }, 60s),
                               "acked " << w.stats().acked << " of " << jobs.size());
            BOOST_TEST(broker->message_count(names.queue("video")).value_or(1) == 0u);
            const auto messages = broker->drain(names.events_queue(), 1s);
            std::map<std::string, std::vector<std::string>> by_job;
            std::size_t in_batches = 0;
            for (const auto& m : messages) {
                const auto events = events_in(m);
                if (events.size() > 1) {
                    BOOST_TEST(m.routing_key == "video.batch");
                    BOOST_TEST(m.type == "batch");
                } else {
                    BOOST_TEST(m.routing_key == "video." + events.front().status);
                }
                for (const auto& e : events) {
                    by_job[std::string(e.body.at("uuid").as_string())].push_back(e.status);
                    in_batches += e.batched;
                }
            }
            // Every job's STARTED then SUCCESS, once each, whatever message carried them.
            BOOST_TEST(by_job.size() == jobs.size());
            for (const auto& uuid : jobs)
                BOOST_TEST((by_job[uuid] == std::vector<std::string>{"STARTED", "SUCCESS"}), uuid);
            BOOST_TEST(w.stats().events_published == 2 * jobs.size());
            BOOST_TEST(w.stats().event_messages == messages.size());
            if (event_batch == 1) {
                BOOST_TEST(messages.size() == 2 * jobs.size());
                BOOST_TEST(in_batches == 0u);
            } else {
                // A job's STARTED and SUCCESS come microseconds apart, well within the linger:
                // at most one message per job, and fewer where jobs ran side by side.
                BOOST_TEST(messages.size() <= jobs.size(), messages.size() << " messages");
                BOOST_TEST(in_batches > 0u);
            }
        }
    }
}

// Jobs done after one still running are acked (several with one ack where they run from the
// oldest delivery held), and the one still running is not: once the worker is gone the broker
// has it again. A multiple ack reaching past it would have settled it with the others.
BOOST_AUTO_TEST_CASE(jobs_done_are_acked_and_one_still_running_before_them_is_not) {
    auto broker = connect_test_broker();
    const topology_names names("wackrun");
    topology_cleanup cleanup(names);
    auto o = options_for(names);
    o.concurrency = 4;
    auto first = video_job_message();  // published by hand below, so the handler knows it first
    holding_handler handler(first.uuid);
    {
        running_worker w(o, handler);
        wait_for_topology(*broker, names);
        publish_job(names);  // routed: the queue is bound, so the next one is not dropped
        BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().acked == 1; }, 30s));
        broker->publish(names.exchange(), "video", first.body, first.uuid);
        BOOST_TEST_REQUIRE(wait_until([&] { return handler.is_holding(); }, 30s),
                           "the first job never reached its handler");
        for (int i = 0; i < 6; ++i) publish_job(names);
        BOOST_TEST_REQUIRE(wait_until([&] { return w.stats().acked == 7; }, 30s),
                           "acked " << w.stats().acked << " of the 7 jobs done");
        BOOST_TEST(broker->message_count(names.queue("video")).value_or(1) == 0u);
    }
    // The worker stopped with the first job in hand: it is back in its queue, unacked.
    BOOST_TEST(wait_until([&] { return broker->message_count(names.queue("video")).value_or(0) == 1; }, 30s),
               "the job still running when later ones were acked is gone from its queue");
    const auto back = broker->drain(names.queue("video"), 500ms);
    BOOST_TEST_REQUIRE(back.size() == 1u);
    BOOST_TEST(back.front().message_id == first.uuid);
}

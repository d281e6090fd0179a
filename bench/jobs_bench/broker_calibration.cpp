// Publishes as fast as the confirm window allows on one amqp_session, run on the caller's
// thread for one connection only (a failure ends the probe); acks and nacks come back through
// the session's frame loop. The throwaway queue is deleted at the end.
#include "bench/jobs_bench/broker_calibration.hpp"

#include <amqp.h>
#include <unistd.h>

#include "queue/amqp_bytes.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/amqp_session.hpp"
#include "queue/confirm_tracker.hpp"

namespace jobsd::bench {

namespace {

using clock = std::chrono::steady_clock;

using queue::bytes;

class calibration final : public queue::amqp_session_user {
  public:
    calibration(const broker_probe& p, broker_rate& out)
        : probe_(p),
          out_(out),
          body_(p.message_size, 'x'),
          queue_("jobs-bench.calibration." + std::to_string(::getpid())) {}

    void on_connected(queue::amqp_connection& conn) override {
        conn.declare_exchange(exchange_, "direct");
        queue::amqp_arguments args;
        // Deleted at the end; x-expires also removes it a minute after a run that died midway.
        args.add("x-queue-type", probe_.queue_type).add("x-expires", std::int64_t{60'000});
        conn.declare_queue(queue_, args);
        conn.bind_queue(queue_, exchange_, queue_);
        conn.confirm_select();
        start_ = clock::now();
        end_ = start_ + probe_.duration;
        // Confirms still missing 10 s after the end are given up on: the measurement is bounded.
        give_up_ = end_ + std::chrono::seconds(10);
    }

    queue::amqp_step step(queue::amqp_connection& conn, clock::time_point now) override {
        while (now < end_ && tracker_.outstanding() < probe_.window) publish(conn);
        if ((now >= end_ && tracker_.outstanding() == 0) || now >= give_up_) {
            finish(conn, now);
            return {true};
        }
        return {false, false, now < end_ ? end_ : give_up_};
    }

    void on_confirm(queue::amqp_connection&, const queue::amqp_confirm& c) override {
        auto s = c.ack ? tracker_.on_ack(c.tag, c.multiple) : tracker_.on_nack(c.tag, c.multiple);
        out_.confirmed += s.confirmed.size();
        out_.nacked += s.failed.size();
    }

    void on_flow(queue::amqp_connection&, bool, std::string_view) override {}  // the rate shows it

    void on_disconnected(std::string_view why) override {
        if (why.empty()) return;
        out_.error = std::string(why);
        failed_ = true;
    }

    bool stopping() const override { return failed_.load(); }

  private:
    void publish(queue::amqp_connection& conn) {
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        if (amqp_basic_publish(conn.state(), queue::amqp_connection::channel, bytes(exchange_), bytes(queue_),
                               1, 0, &props, bytes(body_)) != AMQP_STATUS_OK)
            throw queue::amqp_error("publish failed");
        tracker_.on_publish({"", "calibration", {}, 0, 1, std::nullopt, {}});
    }

    void finish(queue::amqp_connection& conn, clock::time_point now) {
        out_.seconds = std::chrono::duration<double>(now - start_).count();
        out_.per_second = out_.seconds > 0 ? static_cast<double>(out_.confirmed) / out_.seconds : 0;
        amqp_queue_delete(conn.state(), queue::amqp_connection::channel, bytes(queue_), 0, 0);
        conn.check_last("deleting the calibration queue");
        amqp_exchange_delete(conn.state(), queue::amqp_connection::channel, bytes(exchange_), 0);
        conn.check_last("deleting the calibration exchange");
    }

    const broker_probe& probe_;
    broker_rate& out_;
    const std::string body_;
    const std::string exchange_ = "jobs-bench.calibration";
    const std::string queue_;
    queue::confirm_tracker tracker_;
    clock::time_point start_{}, end_{}, give_up_{};
    std::atomic<bool> failed_{false};  // also read by the session's send watchdog
};

}  // namespace

broker_rate measure_broker_rate(const broker_probe& p) {
    broker_rate out;
    try {
        queue::amqp_session_options o;
        o.name = "calibration";
        o.urls = {p.url};
        o.connect_timeout = std::chrono::seconds(5);
        o.heartbeat_s = 30;
        o.log_failures = false;
        calibration user(p, out);
        queue::wakeup never;  // nothing else wakes this session: it runs on the caller's thread
        queue::amqp_session(o, user, never).run();
    } catch (const std::exception& e) {
        out.error = e.what();  // e.g. no eventfd
    }
    return out;
}

}  // namespace jobsd::bench

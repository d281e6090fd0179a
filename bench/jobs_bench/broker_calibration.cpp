// Publishes as fast as the confirm window allows, reading basic.ack/nack frames between
// publishes; the throwaway queue is deleted at the end.
#include "bench/jobs_bench/broker_calibration.hpp"

#include <amqp.h>
#include <unistd.h>

#include "queue/amqp_connection.hpp"
#include "queue/confirm_tracker.hpp"

namespace jobsd::bench {

namespace {
amqp_bytes_t bytes(const std::string& s) {
    return {s.size(), const_cast<char*>(s.data())};
}
}  // namespace

broker_rate measure_broker_rate(const broker_probe& p) {
    broker_rate out;
    using clock = std::chrono::steady_clock;
    try {
        queue::amqp_connection conn(p.url, std::chrono::seconds(5), 30);
        const std::string exchange = "jobs-bench.calibration";
        const std::string queue_name = "jobs-bench.calibration." + std::to_string(::getpid());
        conn.declare_exchange(exchange, "direct");
        queue::amqp_arguments args;
        // Deleted at the end; x-expires also removes it a minute after a run that died midway.
        args.add("x-queue-type", p.queue_type).add("x-expires", std::int64_t{60'000});
        conn.declare_queue(queue_name, args);
        conn.bind_queue(queue_name, exchange, queue_name);
        conn.confirm_select();

        const std::string body(p.message_size, 'x');
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;

        queue::confirm_tracker tracker;
        const auto start = clock::now();
        const auto end = start + p.duration;
        // Confirms still missing 10 s after the end are given up on: the measurement is bounded.
        const auto give_up = end + std::chrono::seconds(10);
        while ((clock::now() < end || tracker.outstanding() > 0) && clock::now() < give_up) {
            while (clock::now() < end && tracker.outstanding() < p.window) {
                if (amqp_basic_publish(conn.state(), queue::amqp_connection::channel, bytes(exchange),
                                       bytes(queue_name), 1, 0, &props, bytes(body)) != AMQP_STATUS_OK)
                    throw queue::amqp_error("publish failed");
                tracker.on_publish({"", "calibration", {}, 0});
            }
            amqp_frame_t frame;
            timeval tv{0, 100'000};
            const int rc = amqp_simple_wait_frame_noblock(conn.state(), &frame, &tv);
            if (rc == AMQP_STATUS_TIMEOUT) continue;
            if (rc != AMQP_STATUS_OK)
                throw queue::amqp_error(std::string("connection lost: ") + amqp_error_string2(rc));
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;
            if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
                auto s = tracker.on_ack(ack->delivery_tag, ack->multiple != 0);
                out.confirmed += s.confirmed.size();
                out.nacked += s.failed.size();
            } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
                const auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
                out.nacked += tracker.on_nack(nack->delivery_tag, nack->multiple != 0).failed.size();
            }
            amqp_maybe_release_buffers(conn.state());
        }
        out.seconds = std::chrono::duration<double>(clock::now() - start).count();
        out.per_second = out.seconds > 0 ? static_cast<double>(out.confirmed) / out.seconds : 0;
        amqp_queue_delete(conn.state(), queue::amqp_connection::channel, bytes(queue_name), 0, 0);
        conn.check_last("deleting the calibration queue");
        amqp_exchange_delete(conn.state(), queue::amqp_connection::channel, bytes(exchange), 0);
        conn.check_last("deleting the calibration exchange");
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    return out;
}

}  // namespace jobsd::bench

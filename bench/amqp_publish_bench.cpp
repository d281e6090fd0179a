// amqp-publish-bench: the broker's own confirmed-publish rate on this machine, measured with
// the same rabbitmq-c publishing pattern jobsd uses (persistent, mandatory, a confirm window),
// into a throwaway queue of the same type. jobsd's sustained rate is compared against it.
#include <amqp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "queue/amqp_connection.hpp"
#include "queue/confirm_tracker.hpp"

using namespace jobsd::queue;
using steady = std::chrono::steady_clock;

namespace {

struct options {
    std::string url = "amqp://guest:guest@127.0.0.1:5673/";
    double seconds = 10;
    std::size_t window = 512;
    std::size_t size = 600;  // bytes per message: about one seed-shaped job message
    std::string queue_type = "quorum";
};

[[noreturn]] void usage(int code) {
    std::cerr << "usage: amqp-publish-bench [--url URL] [--seconds S] [--window N] [--size BYTES]\n"
                 "                          [--queue-type quorum|classic]\n";
    std::exit(code);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage(2);
            return argv[++i];
        };
        if (a == "--url") o.url = next();
        else if (a == "--seconds") o.seconds = std::stod(next());
        else if (a == "--window") o.window = std::stoul(next());
        else if (a == "--size") o.size = std::stoul(next());
        else if (a == "--queue-type") o.queue_type = next();
        else if (a == "--help" || a == "-h") usage(0);
        else usage(2);
    }
    return o;
}

amqp_bytes_t bytes(const std::string& s) { return {s.size(), const_cast<char*>(s.data())}; }

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    try {
        amqp_connection conn(o.url, std::chrono::seconds(5), 30);
        const std::string exchange = "bench.publish";
        const std::string queue = "bench.publish." + std::to_string(::getpid());
        conn.declare_exchange(exchange, "direct");
        amqp_arguments args;
        args.add("x-queue-type", o.queue_type);
        conn.declare_queue(queue, args);
        conn.bind_queue(queue, exchange, queue);
        conn.confirm_select();

        const std::string body(o.size, 'x');
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;

        confirm_tracker tracker;
        std::uint64_t confirmed = 0, failed = 0;
        const auto start = steady::now();
        const auto end = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.seconds));
        while (steady::now() < end || tracker.outstanding() > 0) {
            while (steady::now() < end && tracker.outstanding() < o.window) {
                if (amqp_basic_publish(conn.state(), amqp_connection::channel, bytes(exchange), bytes(queue), 1, 0,
                                       &props, bytes(body)) != AMQP_STATUS_OK)
                    throw amqp_error("publish failed");
                tracker.on_publish({"", "bench", {}, 0});
            }
            amqp_frame_t frame;
            timeval tv{0, 100'000};
            const int rc = amqp_simple_wait_frame_noblock(conn.state(), &frame, &tv);
            if (rc == AMQP_STATUS_TIMEOUT) continue;
            if (rc != AMQP_STATUS_OK) throw amqp_error(std::string("connection lost: ") + amqp_error_string2(rc));
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;
            if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
                const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
                auto s = tracker.on_ack(ack->delivery_tag, ack->multiple != 0);
                confirmed += s.confirmed.size();
                failed += s.failed.size();
            } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
                const auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
                failed += tracker.on_nack(nack->delivery_tag, nack->multiple != 0).failed.size();
            }
            amqp_maybe_release_buffers(conn.state());
        }
        const double elapsed = std::chrono::duration<double>(steady::now() - start).count();
        amqp_queue_delete(conn.state(), amqp_connection::channel, bytes(queue), 0, 0);
        conn.check_last("deleting the bench queue");
        std::printf("%s queue, window %zu, %zu-byte persistent messages: %llu confirmed, %llu nacked in %.2f s = "
                    "%.0f confirmed msg/s\n",
                    o.queue_type.c_str(), o.window, o.size, static_cast<unsigned long long>(confirmed),
                    static_cast<unsigned long long>(failed), elapsed, static_cast<double>(confirmed) / elapsed);
    } catch (const std::exception& e) {
        std::cerr << "amqp-publish-bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

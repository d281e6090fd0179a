// amqp-publish-bench: the broker's own confirmed-publish rate on this machine, measured with
// the same publishing pattern jobsd uses (persistent, a confirm window) into a throwaway queue
// of the same type. jobsd's sustained rate is compared against it. The measurement itself is
// jobs-bench's calibration probe; this is its command-line front end.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "bench/jobs_bench/broker_calibration.hpp"

namespace {

[[noreturn]] void usage(int code) {
    std::cerr << "usage: amqp-publish-bench [--url URL] [--seconds S] [--window N] [--size BYTES]\n"
                 "                          [--queue-type quorum|classic]\n";
    std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
    jobsd::bench::broker_probe probe;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto next = [&]() -> std::string {
                if (i + 1 >= argc) usage(2);
                return argv[++i];
            };
            if (a == "--url")
                probe.url = next();
            else if (a == "--seconds")
                probe.duration = std::chrono::milliseconds(static_cast<long>(std::stod(next()) * 1000));
            else if (a == "--window")
                probe.window = std::stoul(next());
            else if (a == "--size")
                probe.message_size = std::stoul(next());
            else if (a == "--queue-type")
                probe.queue_type = next();
            else if (a == "--help" || a == "-h")
                usage(0);
            else
                usage(2);
        }
    } catch (const std::exception&) {
        usage(2);  // a number that does not parse
    }
    const auto r = jobsd::bench::measure_broker_rate(probe);
    if (!r.error.empty()) {
        std::cerr << "amqp-publish-bench: " << r.error << "\n";
        return 1;
    }
    std::printf(
        "%s queue, window %zu, %zu-byte persistent messages: %llu confirmed, %llu nacked in %.2f s = "
        "%.0f confirmed msg/s\n",
        probe.queue_type.c_str(), probe.window, probe.message_size,
        static_cast<unsigned long long>(r.confirmed), static_cast<unsigned long long>(r.nacked), r.seconds,
        r.per_second);
    return 0;
}

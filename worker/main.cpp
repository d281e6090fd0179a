// jobs-worker: serves the job queue of one job type with a pool of handler threads.
// Flags and JOBS_WORKER_* variables are read here only; exit 2 on bad configuration.
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <iostream>

#include "queue/amqp_connection.hpp"
#include "worker/handlers.hpp"
#include "worker/worker_options.hpp"
#include "worker/worker_runtime.hpp"

namespace {

// The one runtime a signal handler may reach; stop() is async-signal-safe.
std::atomic<jobsd::worker::worker_runtime*> signal_target{nullptr};

extern "C" void on_signal(int) {
    if (auto* rt = signal_target.load()) rt->stop();
}

std::string worker_identity() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
    return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace jobsd::worker;
    const std::vector<std::string> args(argv + 1, argv + argc);
    const auto parsed = parse_worker_options(args, [](std::string_view name) -> std::optional<std::string> {
        if (const char* v = std::getenv(std::string(name).c_str())) return std::string(v);
        return std::nullopt;
    });
    if (parsed.help) {
        std::cout << usage_text();
        return 0;
    }
    if (!parsed.options) {
        std::cerr << "jobs-worker: " << parsed.error << "\n";
        return 2;
    }
    const worker_options& options = *parsed.options;
    spdlog::set_level(spdlog::level::from_str(options.log_level));

    std::unique_ptr<job_handler> handler;
    try {
        handler = make_handler(options);
    } catch (const std::exception& e) {
        std::cerr << "jobs-worker: " << e.what() << "\n";
        return 2;
    }

    ::signal(SIGPIPE, SIG_IGN);  // a peer closing a socket or pipe is an error return, not death
    const std::string id = worker_identity();
    worker_runtime runtime(options, *handler, id);
    signal_target = &runtime;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);

    std::string urls;
    for (const auto& u : options.amqp.urls) urls += (urls.empty() ? "" : ", ") + jobsd::queue::redact_url(u);
    spdlog::info("jobs-worker {} serving {} with handler {}, concurrency {}, broker {}", id, options.job_type,
                 options.handler, options.concurrency, urls);

    const bool clean = runtime.run();
    signal_target = nullptr;

    const auto& s = runtime.stats();
    spdlog::info(
        "jobs-worker {} done: {} received, {} succeeded, {} failed ({} timed out), {} cancelled, {} expired, "
        "{} rejected, {} acked, {} released, {} handed back at the stop, {} lost to reconnects; events {} "
        "published in {} messages, {} confirmed, {} nacked; {} reconnects",
        id, s.received.load(), s.succeeded.load(), s.failed.load(), s.timed_out.load(), s.cancelled.load(),
        s.expired.load(), s.rejected.load(), s.acked.load(), s.released.load(), s.handed_back.load(),
        s.lost.load(), s.events_published.load(), s.event_messages.load(), s.events_confirmed.load(),
        s.events_nacked.load(), s.reconnects.load());
    if (!clean) {
        // Some handler ignores its stop token; joining it could take forever. The broker has
        // its job back already.
        spdlog::warn("a handler did not return after being stopped; exiting without waiting for it");
        spdlog::shutdown();
        std::_Exit(0);
    }
    return 0;
}

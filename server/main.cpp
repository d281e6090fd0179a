// jobsd: load the configuration, start the server, stop on SIGINT/SIGTERM.
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "server/app.hpp"
#include "server/config.hpp"
#include "server/logging.hpp"

int main(int argc, char** argv) {
    using namespace jobsd::server;
    // SIGINT and SIGTERM are blocked in every thread (threads inherit the mask, so this comes
    // before any is made) and taken by sigwait on a thread of their own. The first one stops the
    // server; later ones, or one during startup or the teardown, are taken the same way and can
    // never end jobsd by their default action: it always exits as it exits after one signal.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    config cfg;
    try {
        bool help = false;
        cfg = load_config(argc, argv, help);
        if (help) {
            std::cout << config_usage();
            return 0;
        }
    } catch (const config_error& e) {
        std::cerr << "jobsd: " << e.what() << "\n";
        return 2;
    }
    try {
        setup_logging(cfg.log);
    } catch (const config_error& e) {
        std::cerr << "jobsd: " << e.what() << "\n";
        return 2;
    }

    try {
        app server(cfg);
        // The server to stop, while it exists; the signal thread outlives it (detached).
        static std::mutex target_mu;
        static app* target = &server;
        std::thread([stop_signals] {
            ::pthread_setname_np(::pthread_self(), "jobsd-signals");
            for (bool stopping = false;;) {
                int sig = 0;
                if (sigwait(&stop_signals, &sig) != 0) continue;
                std::lock_guard lock(target_mu);
                if (!target || stopping) continue;  // asked already, or gone
                stopping = true;
                spdlog::info("signal {}: stopping", sig);
                target->stop();
            }
        }).detach();

        std::printf("jobsd listening on %s://%s:%u\n", cfg.tls.enabled ? "https" : "http",
                    cfg.server.listen.c_str(), server.port());
        std::fflush(stdout);
        server.run();
        {
            std::lock_guard lock(target_mu);
            target = nullptr;
        }
        spdlog::info("stopped");
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
    return 0;
}

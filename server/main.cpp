// jobsd: load the configuration, start the server, stop on SIGINT/SIGTERM.
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "server/app.hpp"
#include "server/config.hpp"
#include "server/logging.hpp"

int main(int argc, char** argv) {
    using namespace jobsd::server;
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
        {
            // Signals are caught on a thread of their own so the io threads stay free. A second
            // one while stopping waits in the set: the first has asked for everything there is.
            boost::asio::io_context signals_ctx;
            boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
            signals.async_wait([&](const boost::system::error_code& ec, int sig) {
                if (!ec) spdlog::info("signal {}: stopping", sig);
                server.stop();
            });
            std::thread signal_thread([&] { signals_ctx.run(); });

            std::printf("jobsd listening on %s://%s:%u\n", cfg.tls.enabled ? "https" : "http",
                        cfg.server.listen.c_str(), server.port());
            std::fflush(stdout);
            server.run();
            signals.cancel();
            signal_thread.join();
        }
        // The set gone, the default action is back. Every request was answered and every job
        // stored: a SIGTERM repeated now (a supervisor, a test) must not turn the clean exit of
        // the teardown below into a death by signal.
        std::signal(SIGTERM, SIG_IGN);
        std::signal(SIGINT, SIG_IGN);
        spdlog::info("stopped");
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
    return 0;
}

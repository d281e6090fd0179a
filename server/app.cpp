// One io_context per io thread (no locks inside Asio); the acceptor hands each new connection
// to the next context in turn, and its session coroutine lives there.
#include "server/app.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <thread>

#include "server/event_applier.hpp"
#include "server/routes.hpp"
#include "server/session.hpp"
#include "server/store_control_outbox.hpp"
#include "server/store_outbox.hpp"
#include "server/tls_context.hpp"
#include "server/use_nothrow.hpp"
#include "store/seed.hpp"
#include "store/store_factory.hpp"

namespace jobsd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::unique_ptr<asio::io_context> make_context() {
    return std::make_unique<asio::io_context>(1);
}

// Lowers the calling thread's CPU priority by `nice` (Linux: a thread's own nice value, which
// only lowering needs no privilege for). A failure costs only the priority: it is logged.
void lower_priority(unsigned nice) {
    if (nice == 0) return;
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, tid);
    if (errno == 0 && ::setpriority(PRIO_PROCESS, tid, now + static_cast<int>(nice)) == 0) return;
    spdlog::warn("webhooks: could not lower the dispatcher thread's priority: {}", std::strerror(errno));
}

}  // namespace

app::app(config cfg)
    : config_(std::move(cfg)),
      tls_([&]() -> std::optional<asio::ssl::context> {
          if (!config_.tls.enabled) return std::nullopt;
          return make_tls_context(config_.tls);
      }()),
      store_(store::open_store(config_.store)),
      metrics_(slot_names(route_table())),
      // A batch announces each of its jobs to a session's streams at once: room for two batches
      // beside the usual margin, so a stream that keeps up is never cut off by one.
      hub_(std::max<std::size_t>(1024, 2 * config_.server.batch_max_jobs)),
      gate_(config_.server),
      contexts_([&] {
          std::vector<std::unique_ptr<asio::io_context>> v;
          unsigned n = config_.server.threads ? config_.server.threads : std::thread::hardware_concurrency();
          for (unsigned i = 0; i < std::max(1u, n); ++i) v.push_back(make_context());
          return v;
      }()),
      acceptor_(*contexts_.front()) {
    if (!config_.seed_file.empty()) {
        store_->apply_seed(store::load_seed_file(config_.seed_file));
        spdlog::info("seed {} applied", config_.seed_file);
    }
    // The first catalog is loaded before the port opens, so no request meets an empty one.
    auto [ec, snapshot] =
        store::async_load_catalog(*store_, asio::use_future([](store::error_code e, store::catalog_ptr c) {
            return std::make_pair(e, std::move(c));
        })).get();
    if (ec) throw std::runtime_error("cannot load accounts and projects: " + ec.message());
    catalog_.replace(std::move(snapshot));

    if (config_.amqp.enabled) make_broker_parts();
    if (config_.webhooks.enabled && store_->webhooks()) {
        std::vector<asio::io_context*> contexts;
        for (unsigned i = 0; i < config_.webhooks.threads; ++i) {
            webhook_contexts_.push_back(make_context());
            contexts.push_back(webhook_contexts_.back().get());
        }
        dispatcher_ = std::make_unique<webhooks::webhook_dispatcher>(
            config_.webhooks, *store_->webhooks(), std::move(contexts),
            [s = store_.get()] { return s->stats().write_queue; });
    }
    if (publisher_ && config_.lifecycle.fair_window > 0)
        release_ =
            std::make_unique<job_release>(config_.lifecycle, config_.amqp, *store_, *publisher_, metrics_);
    operator_api_ = std::make_unique<operator_api>(config_, *store_, metrics_, publisher_.get());
    lifecycle_sweeper::queue_reader read_queues;
    if (publisher_) read_queues = [this] { return operator_api_->queue_view_now(); };
    sweeper_ = std::make_unique<lifecycle_sweeper>(
        config_.lifecycle, *store_, hub_, metrics_, publisher_.get(),
        [this] {
            if (dispatcher_) dispatcher_->notify();
        },
        std::move(read_queues));
    services_ = std::make_unique<services>(
        services{config_.server, *store_, catalog_, metrics_, publisher_.get(), hub_, *operator_api_, gate_,
                 config_.webhooks, store_->webhooks(), dispatcher_.get(), config_.store.common.lifecycle,
                 control_.get(), release_.get()});
    api_ = std::make_unique<api>(route_table(), *services_);
    metrics_.watch(publisher_ ? &publisher_->stats() : nullptr,
                   event_consumer_ ? &event_consumer_->stats() : nullptr, &hub_);
    metrics_.watch_webhooks(dispatcher_ ? &dispatcher_->stats() : nullptr);
    metrics_.watch_control(control_ ? &control_->stats() : nullptr);
    metrics_.watch_status_relay(status_relay_.get());

    const tcp::endpoint endpoint{asio::ip::make_address(config_.server.listen), config_.server.port};
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
}

// Publishing, the workers' events, cancels to the workers and, on a shared store, the live
// session events between instances: each with its own broker connection and thread.
void app::make_broker_parts() {
    outbox_ = std::make_unique<store_outbox>(*store_);
    publisher_ = std::make_unique<queue::publisher>(config_.amqp, *outbox_);
    event_sink_ = std::make_unique<event_applier>(*store_, hub_, &metrics_, [this] {
        if (dispatcher_) dispatcher_->notify();
    });
    event_consumer_ = std::make_unique<queue::event_consumer>(config_.amqp, *event_sink_);
    control_outbox_ = std::make_unique<store_control_outbox>(*store_);
    control_ = std::make_unique<queue::control_publisher>(config_.amqp, *control_outbox_);
    if (config_.store.shared() && !config_.amqp.status_exchange.empty()) {
        status_relay_ = std::make_unique<queue::status_relay>(
            config_.amqp, queue::status_relay::hooks{
                              [this](const std::string& account, const std::string& session,
                                     const std::string& event) { hub_.deliver(account, session, event); },
                              [this] { return hub_.subscribers(); }});
        hub_.attach(status_relay_.get());
    }
}

app::~app() {
    // The store goes first: it commits what is queued and posts the completions to the (now
    // stopped) contexts, which then destroy them with the coroutines still waiting.
    if (publisher_) publisher_->stop();
    if (event_consumer_) event_consumer_->stop();
    if (control_) control_->stop();
    if (status_relay_) status_relay_->stop();
    store_.reset();
    // Likewise the operator routes' broker reader thread, while the contexts it completes on live.
    api_.reset();
    operator_api_.reset();
    release_.reset();
}

asio::awaitable<void> app::accept_loop() {
    std::size_t next = 0;
    for (;;) {
        auto& ctx = *contexts_[next];
        next = (next + 1) % contexts_.size();
        auto [ec, socket] = co_await acceptor_.async_accept(ctx, use_nothrow);
        if (ec) {
            if (!acceptor_.is_open()) co_return;
            spdlog::warn("accept: {}", ec.message());  // e.g. EMFILE; keep serving the others
            asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        socket.set_option(tcp::no_delay(true));
        if (static_cast<std::size_t>(std::max<std::int64_t>(0, metrics_.open_connections())) >=
            config_.server.max_connections) {
            if (tls_)
                asio::co_spawn(ctx,
                               refuse_tls_connection(std::move(socket), *tls_, config_.server, config_.tls),
                               asio::detached);
            else
                asio::co_spawn(ctx, refuse_connection(std::move(socket), config_.server), asio::detached);
            continue;
        }
        if (tls_)
            asio::co_spawn(ctx, run_tls_session(std::move(socket), *tls_, *api_, config_.server, config_.tls),
                           asio::detached);
        else
            asio::co_spawn(ctx, run_session(std::move(socket), *api_, config_.server), asio::detached);
    }
}

void app::run() {
    asio::co_spawn(*contexts_.front(), accept_loop(), asio::detached);
    asio::co_spawn(*contexts_.front(), refresh_catalog(), asio::detached);
    if (config_.server.max_outbox_backlog > 0 || publisher_)
        asio::co_spawn(*contexts_.front(), watch_outbox(), asio::detached);
    asio::co_spawn(*contexts_.front(), sample_ingest(), asio::detached);
    asio::co_spawn(*contexts_.front(), sweeper_->run(*contexts_.front(), stopping_), asio::detached);
    if (release_)
        asio::co_spawn(*contexts_.front(), release_->run(*contexts_.front(), stopping_), asio::detached);
    if (publisher_) publisher_->start();
    if (event_consumer_) event_consumer_->start();
    if (dispatcher_) dispatcher_->start();
    if (control_) control_->start();
    if (status_relay_) status_relay_->start();

    // Work guards keep each context running while a coroutine waits on a store thread.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& c : contexts_) guards.push_back(asio::make_work_guard(*c));
    for (auto& c : webhook_contexts_) guards.push_back(asio::make_work_guard(*c));
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i)
        // Named as top -H and perf show it; io thread 0, the main thread, keeps "jobsd".
        threads.emplace_back([c = contexts_[i].get()] {
            ::pthread_setname_np(::pthread_self(), "jobsd-io");
            c->run();
        });
    for (auto& c : webhook_contexts_)
        threads.emplace_back([c = c.get(), nice = config_.webhooks.nice] {
            ::pthread_setname_np(::pthread_self(), "jobsd-webhooks");  // as top -H and perf show it
            lower_priority(nice);
            c->run();
        });
    contexts_.front()->run();
    for (auto& t : threads) t.join();
    // HTTP is done; let the publisher collect the confirms it is owed, then close.
    if (publisher_) publisher_->stop();
    if (event_consumer_) event_consumer_->stop();
    if (control_) control_->stop();
    if (status_relay_) status_relay_->stop();
}

asio::awaitable<void> app::refresh_catalog() {
    asio::steady_timer timer(*contexts_.front());
    while (!stopping_) {
        timer.expires_after(config_.server.catalog_refresh);
        co_await timer.async_wait(use_nothrow);
        if (stopping_) co_return;
        auto [ec, snapshot] = co_await store::async_load_catalog(*store_, use_nothrow);
        if (ec)
            spdlog::warn("catalog refresh failed, keeping the previous one: {}", ec.message());
        else
            catalog_.replace(std::move(snapshot));
    }
}

asio::awaitable<void> app::watch_outbox() {
    asio::steady_timer timer(*contexts_.front());
    while (!stopping_) {
        const auto asked = std::chrono::steady_clock::now();
        auto [ec, stats] =
            co_await store::async_read_outbox_stats(*store_, store::outbox_detail::total, use_nothrow);
        if (!ec) gate_.set_outbox_backlog(stats.unpublished);
        timer.expires_after(outbox_count_pause(std::chrono::steady_clock::now() - asked));
        co_await timer.async_wait(use_nothrow);
    }
}

asio::awaitable<void> app::sample_ingest() {
    // A steady one-second cadence (the timer is re-armed from its previous expiry, not from now),
    // so each history point covers one second.
    asio::steady_timer timer(*contexts_.front(), std::chrono::steady_clock::now());
    while (!stopping_) {
        operator_api_->sample_ingest();
        timer.expires_at(timer.expiry() + std::chrono::seconds(1));
        co_await timer.async_wait(use_nothrow);
    }
}

void app::stop() {
    if (stopping_.exchange(true)) return;
    asio::co_spawn(*contexts_.front(), drain(), asio::detached);
}

asio::awaitable<bool> app::wait_for_requests(std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer poll(*contexts_.front());
    while (metrics_.requests_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
        poll.expires_after(std::chrono::milliseconds(10));
        co_await poll.async_wait(use_nothrow);
    }
    co_return metrics_.requests_in_flight() == 0;
}

asio::awaitable<void> app::drain() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    gate_.start_draining();
    if (dispatcher_) dispatcher_->stop();  // no new attempts; those in flight end and are recorded
    // Requests in flight get the grace period to be answered; idle connections just close.
    const auto grace = config_.server.shutdown_grace;
    const auto graced = std::chrono::steady_clock::now() + grace;
    if (!co_await wait_for_requests(graced)) {
        // Past the grace, every request still waiting is answered, never cut: the jobs not yet
        // being committed are refused (503, nothing stored) and a commit already running gets
        // one more grace period to finish and answer 201. Only a commit stalled past that can
        // leave a job stored without its answer.
        spdlog::warn(
            "shutdown: {} request(s) still in flight after {} ms; refusing the jobs not yet being "
            "committed",
            metrics_.requests_in_flight(), grace.count());
        store_->stop_creating();
        if (!co_await wait_for_requests(std::chrono::steady_clock::now() + grace))
            spdlog::error(
                "shutdown: {} request(s) cut without an answer: a commit stalled past the grace period "
                "may have stored their jobs",
                metrics_.requests_in_flight());
    }
    // Webhook attempts in flight get the same grace to end and be recorded, so that a restart
    // does not send them again; one cut past it is sent again (at least once).
    asio::steady_timer poll(*contexts_.front());
    while (dispatcher_ && !dispatcher_->settled() && std::chrono::steady_clock::now() < graced) {
        poll.expires_after(std::chrono::milliseconds(10));
        co_await poll.async_wait(use_nothrow);
    }
    for (auto& c : contexts_) c->stop();
    for (auto& c : webhook_contexts_) c->stop();
}

}  // namespace jobsd::server

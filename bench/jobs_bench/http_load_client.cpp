// One coroutine per connection: (wait for the slot) → connect if needed → write prebuilt bytes →
// read the answer with a Beast basic_parser → record. Every operation has a deadline, so each
// coroutine ends by itself; the watchdog in run_load() only backs that up.
#include "bench/jobs_bench/http_load_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/jobs_bench/asio_tokens.hpp"
#include "bench/jobs_bench/rate_scheduler.hpp"
#include "bench/jobs_bench/response_parser.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace jobsd::bench {

std::int64_t monotonic_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

namespace {

// What every connection of a run shares; read-only apart from the atomics.
struct shared_run {
    const load_plan& plan;
    const request_set& requests;
    tcp::endpoint endpoint;
    std::chrono::steady_clock::time_point origin;
    std::atomic<std::uint64_t> answered{0};  // for request_limit
    std::atomic<bool> stop{false};

    std::chrono::nanoseconds now() const { return std::chrono::steady_clock::now() - origin; }
};

error_kind classify(const beast::error_code& ec) {
    if (ec == beast::error::timeout || ec == asio::error::operation_aborted || ec == asio::error::timed_out)
        return error_kind::timeout;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
        ec == asio::error::connection_aborted)
        return error_kind::reset;
    if (ec.category() == http::make_error_code(http::error::bad_version).category())
        return error_kind::malformed;
    return error_kind::reset;
}

void fail(load_stats& st, error_kind k, const beast::error_code& ec) {
    const auto i = static_cast<std::size_t>(k);
    ++st.errors[i];
    if (st.first_error[i].empty()) st.first_error[i] = ec.message();
    st.failed.fetch_add(1, std::memory_order_relaxed);
    st.completed.fetch_add(1, std::memory_order_relaxed);
}

// The uuid of a 201 body {"message":…,"job":{"uuid":"…",…}}: found by its key rather than a
// full JSON parse, as the hot path of --e2e runs.
bool find_uuid(std::string_view body, std::array<char, 36>& out) {
    static constexpr std::string_view key = "\"uuid\":\"";
    const auto at = body.find(key);
    if (at == std::string_view::npos || at + key.size() + 36 >= body.size()) return false;
    std::memcpy(out.data(), body.data() + at + key.size(), 36);
    return body[at + key.size() + 36] == '"';
}

// One connection's socket and its deadline. Shared by the connection coroutine and its watchdog
// (both on the same single-threaded io_context), so whichever resumes last frees it.
struct connection {
    tcp::socket socket;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point deadline{};  // of the operation in progress, if busy
    std::chrono::steady_clock::time_point armed{};     // when the watchdog's timer fires next
    std::chrono::nanoseconds idle_check;
    bool busy = false;
    bool timed_out = false;  // the watchdog closed the socket: the failed op counts as a timeout
    bool done = false;
    explicit connection(const asio::any_io_executor& ex, std::chrono::nanoseconds idle)
        : socket(ex), timer(ex), idle_check(idle) {}
};

// Instead of arming a timer per operation (what tcp_stream::expires_after does), one timer per
// connection wakes at the current deadline and closes the socket if the operation still runs.
// Deadlines usually move forward; one set earlier than the armed time (near the end of the run,
// when deadlines are capped at duration + grace) re-arms the timer by cancelling it.
asio::awaitable<void> watchdog(std::shared_ptr<connection> c) {
    for (;;) {
        auto now = std::chrono::steady_clock::now();
        c->armed = c->deadline > now ? c->deadline : now + c->idle_check;
        c->timer.expires_at(c->armed);
        co_await c->timer.async_wait(use_nothrow);
        if (c->done) co_return;
        now = std::chrono::steady_clock::now();
        if (c->busy && now >= c->deadline) {
            c->timed_out = true;
            beast::error_code ignored;
            c->socket.close(ignored);
        }
    }
}

// One connection's state between its requests: the socket and its watchdog, the read buffer,
// its share of the schedule, and private copies of the requests whose session id it stamps.
struct connection_run {
    connection_run(shared_run& shared, load_stats& stats, unsigned index, const asio::any_io_executor& ex)
        : sh(shared),
          st(stats),
          plan(shared.plan),
          c(std::make_shared<connection>(ex, shared.plan.timeout)),
          buffer(shared.plan.header_limit + shared.plan.body_limit),
          pause(ex),
          rng{0x5eed0000ull + index},
          session_seq((std::uint64_t{index} << 40) ^ (static_cast<std::uint64_t>(monotonic_ns()) << 20)),
          accepted_cap(shared.plan.accepted_max /
                       std::max(1u, std::min(shared.plan.threads, shared.plan.connections))),
          hard_end(shared.origin + shared.plan.duration + shared.plan.grace) {
        const auto& shared_requests = sh.requests.requests();
        own.resize(shared_requests.size());
        for (std::size_t i = 0; i < shared_requests.size(); ++i)
            if (shared_requests[i].session_offset != std::string::npos) own[i] = shared_requests[i].bytes;
        if (plan.rate > 0) schedule.emplace(plan.rate, plan.connections, index, plan.duration);
    }

    void begin_op() {
        c->deadline = std::min(std::chrono::steady_clock::now() + plan.timeout, hard_end);
        c->busy = true;
        if (c->deadline < c->armed) c->timer.cancel();
    }
    void end_op() { c->busy = false; }
    void close() {
        beast::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        c->socket.close(ignored);
        buffer.clear();
    }
    // A request that failed: a timeout when the watchdog closed the socket, else by its error.
    void failed(const beast::error_code& ec) {
        settle(c->timed_out ? error_kind::timeout : classify(ec), ec);
    }
    // A connect that failed counts as a connect failure, timed out or not.
    void connect_failed(const beast::error_code& ec) { settle(error_kind::connect, ec); }
    void settle(error_kind kind, const beast::error_code& ec) {
        end_op();
        fail(st, kind, c->timed_out ? beast::error::timeout : ec);
        c->timed_out = false;
        close();
    }

    // The next request's intended start (an open-loop slot, or now), or nullopt when the run is over
    // for this connection. A connection that fell behind stops with the run: slots still owed at the
    // end of `duration` are not sent during the grace period.
    std::optional<std::chrono::nanoseconds> next_slot() {
        if (!schedule) {
            const auto now = sh.now();
            return now < plan.duration ? std::optional(now) : std::nullopt;
        }
        if (!schedule->has_next() || sh.now() >= plan.duration) return std::nullopt;
        return schedule->take();
    }

    // The bytes of a request picked from the mix, its session id stamped where it has one.
    std::string_view pick_request() {
        const auto& shared_requests = sh.requests.requests();
        const std::size_t pick = sh.requests.pick(rng.next());
        const prebuilt_request& req = shared_requests[pick];
        if (req.session_offset == std::string::npos) return req.bytes;
        stamp_session(own[pick].data() + req.session_offset, ++session_seq);
        return own[pick];
    }

    // Counts an answer read in full; stops the run once request_limit answers came.
    void record(const response_parser& parser, std::chrono::nanoseconds intended) {
        const auto done = sh.now();
        st.latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, (done - intended).count())));
        const unsigned status = std::min(parser.status(), 599u);
        ++st.status[status];
        const auto second = static_cast<std::size_t>(done.count() / 1'000'000'000);
        if (second < st.per_second.size()) ++st.per_second[second];
        st.last_answer_ns = std::max<std::int64_t>(st.last_answer_ns, done.count());
        if (plan.collect_accepted && status == 201) {
            accepted_job job;
            if (st.accepted.size() >= accepted_cap) {
                ++st.untracked;
            } else if (find_uuid(parser.body_prefix(), job.uuid)) {
                job.accepted_ns = monotonic_ns();
                st.accepted.push_back(job);
            }
        }
        st.completed.fetch_add(1, std::memory_order_relaxed);
        if (!parser.keep_alive()) close();
        if (plan.request_limit &&
            sh.answered.fetch_add(1, std::memory_order_relaxed) + 1 >= plan.request_limit)
            sh.stop.store(true, std::memory_order_relaxed);
    }

    shared_run& sh;
    load_stats& st;
    const load_plan& plan;
    std::shared_ptr<connection> c;
    beast::flat_buffer buffer;
    asio::steady_timer pause;
    fast_rng rng;
    std::vector<std::string> own;
    std::uint64_t session_seq;
    std::size_t accepted_cap;
    std::optional<rate_scheduler> schedule;
    std::chrono::steady_clock::time_point hard_end;
};

asio::awaitable<void> run_connection(shared_run& sh, load_stats& st, unsigned index) {
    auto ex = co_await asio::this_coro::executor;
    connection_run r(sh, st, index, ex);
    auto& c = r.c;
    asio::co_spawn(ex, watchdog(c), asio::detached);
    while (!sh.stop.load(std::memory_order_relaxed)) {
        const auto intended = r.next_slot();
        if (!intended) break;
        if (sh.now() < *intended) {
            r.pause.expires_at(sh.origin + *intended);
            co_await r.pause.async_wait(use_nothrow);
        }
        if (!c->socket.is_open()) {
            r.begin_op();
            auto [ec] = co_await c->socket.async_connect(sh.endpoint, use_nothrow);
            ++st.connects;
            if (ec) {
                r.connect_failed(ec);
                if (sh.now() + sh.plan.reconnect_pause < sh.plan.duration) {
                    r.pause.expires_after(sh.plan.reconnect_pause);
                    co_await r.pause.async_wait(use_nothrow);
                }
                continue;
            }
            r.end_op();
            beast::error_code ignored;
            c->socket.set_option(tcp::no_delay(true), ignored);
        }
        const std::string_view bytes = r.pick_request();
        ++st.sent;
        r.begin_op();
        auto [wec, written] =
            co_await asio::async_write(c->socket, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
        if (wec) {
            r.failed(wec);
            continue;
        }
        response_parser parser;
        parser.header_limit(sh.plan.header_limit);
        parser.body_limit(sh.plan.body_limit);
        auto [rec, read] = co_await http::async_read(c->socket, r.buffer, parser, use_nothrow);
        if (rec) {
            r.failed(rec);
            continue;
        }
        r.end_op();
        r.record(parser, *intended);
    }
    r.close();
    c->done = true;
    c->timer.cancel();
}

std::optional<tcp::endpoint> resolve(const load_plan& plan, std::string& fatal) {
    asio::io_context resolve_ctx;
    tcp::resolver resolver(resolve_ctx);
    beast::error_code ec;
    const auto results = resolver.resolve(plan.host, plan.port, ec);
    if (ec || results.empty()) {
        fatal = "cannot resolve " + plan.host + ":" + plan.port + ": " + ec.message();
        return std::nullopt;
    }
    return *results.begin();
}

// Waits for every io thread to finish, reporting progress once a second; the run never outlives
// duration + grace by more than the tick.
void supervise(const load_plan& plan, const shared_run& sh,
               std::vector<std::unique_ptr<asio::io_context>>& contexts,
               const std::vector<std::unique_ptr<load_stats>>& stats, const std::atomic<unsigned>& finished,
               const std::function<void(const load_progress&)>& on_progress) {
    const auto tick = std::chrono::milliseconds(100);
    const auto hard_end = plan.duration + plan.grace;
    auto next_report = sh.origin + std::chrono::seconds(1);
    while (finished.load() < contexts.size()) {
        std::this_thread::sleep_for(tick);
        const auto now = std::chrono::steady_clock::now();
        if (now - sh.origin > hard_end) {
            for (auto& c : contexts) c->stop();
            return;
        }
        if (now >= next_report && on_progress) {
            load_progress p;
            p.elapsed_s = std::chrono::duration<double>(now - sh.origin).count();
            for (auto& s : stats) {
                p.completed += s->completed.load(std::memory_order_relaxed);
                p.failed += s->failed.load(std::memory_order_relaxed);
            }
            on_progress(p);
            next_report += std::chrono::seconds(1);
        }
    }
}

// Requests still waiting for their answer when the run was stopped count as timeouts.
void settle_unanswered(load_stats& s) {
    const auto settled = s.answers() + s.failures() - s.errors[static_cast<std::size_t>(error_kind::connect)];
    if (s.sent <= settled) return;
    const auto k = static_cast<std::size_t>(error_kind::timeout);
    s.errors[k] += s.sent - settled;
    if (s.first_error[k].empty()) s.first_error[k] = "no answer before the run ended (-d plus --grace)";
}

}  // namespace

load_outcome run_load(const load_plan& plan, const request_set& requests,
                      const std::function<void(const load_progress&)>& on_progress) {
    load_outcome out;
    out.stats = std::make_unique<load_stats>();
    if (requests.requests().empty()) {
        out.fatal = "no requests to send";
        return out;
    }
    const auto endpoint = resolve(plan, out.fatal);
    if (!endpoint) return out;

    const unsigned threads = std::max(1u, std::min(plan.threads, plan.connections));
    const auto seconds = static_cast<std::size_t>(
                             std::chrono::ceil<std::chrono::seconds>(plan.duration + plan.grace).count()) +
                         2;
    std::vector<std::unique_ptr<load_stats>> stats;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned t = 0; t < threads; ++t) {
        stats.push_back(std::make_unique<load_stats>());
        stats.back()->per_second.assign(seconds, 0);
        contexts.push_back(std::make_unique<asio::io_context>(1));
    }
    shared_run sh{plan, requests, *endpoint, std::chrono::steady_clock::now(), {}, {}};
    out.origin_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(sh.origin.time_since_epoch()).count();
    std::string crash;  // an exception escaping a connection: reported, never fatal to the process
    std::mutex crash_mutex;
    for (unsigned c = 0; c < plan.connections; ++c)
        asio::co_spawn(*contexts[c % threads], run_connection(sh, *stats[c % threads], c),
                       [&](std::exception_ptr e) {
                           if (!e) return;
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& x) {
                               std::lock_guard lock(crash_mutex);
                               if (crash.empty()) crash = x.what();
                           }
                       });
    std::atomic<unsigned> finished{0};
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            contexts[t]->run();
            finished.fetch_add(1);
        });
    supervise(plan, sh, contexts, stats, finished, on_progress);
    for (auto& w : workers) w.join();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - sh.origin).count();
    for (auto& s : stats) {
        settle_unanswered(*s);
        out.stats->merge(*s);
    }
    const double planned = std::chrono::duration<double>(plan.duration).count();
    out.elapsed_s = std::min(wall, std::max(planned, out.stats->last_answer_ns / 1e9));
    // A run cut short by request_limit lasted only until its last answer.
    if (plan.request_limit) out.elapsed_s = std::max(1e-3, out.stats->last_answer_ns / 1e9);
    contexts.clear();  // destroys any coroutine the watchdog stopped, while `sh` still lives
    if (!crash.empty()) out.fatal = "a connection failed unexpectedly: " + crash;
    return out;
}

}  // namespace jobsd::bench

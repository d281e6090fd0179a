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

asio::awaitable<void> run_connection(shared_run& sh, load_stats& st, unsigned index) {
    const load_plan& plan = sh.plan;
    auto ex = co_await asio::this_coro::executor;
    auto c = std::make_shared<connection>(ex, plan.timeout);
    asio::co_spawn(ex, watchdog(c), asio::detached);
    beast::flat_buffer buffer(plan.header_limit + plan.body_limit);
    asio::steady_timer pause(ex);
    fast_rng rng{0x5eed0000ull + index};

    // Requests whose session id is stamped get a private copy; the others are read in place.
    const auto& shared_requests = sh.requests.requests();
    std::vector<std::string> own(shared_requests.size());
    for (std::size_t i = 0; i < shared_requests.size(); ++i)
        if (shared_requests[i].session_offset != std::string::npos) own[i] = shared_requests[i].bytes;
    std::uint64_t session_seq =
        (std::uint64_t{index} << 40) ^ (static_cast<std::uint64_t>(monotonic_ns()) << 20);

    const std::size_t accepted_cap =
        plan.accepted_max / std::max(1u, std::min(plan.threads, plan.connections));
    std::optional<rate_scheduler> schedule;
    if (plan.rate > 0) schedule.emplace(plan.rate, plan.connections, index, plan.duration);
    const auto hard_end = sh.origin + plan.duration + plan.grace;
    auto begin_op = [&] {
        c->deadline = std::min(std::chrono::steady_clock::now() + plan.timeout, hard_end);
        c->busy = true;
        if (c->deadline < c->armed) c->timer.cancel();
    };
    auto end_op = [&] { c->busy = false; };
    auto close = [&] {
        beast::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        c->socket.close(ignored);
        buffer.clear();
    };
    auto failed = [&](const beast::error_code& ec) {
        end_op();
        fail(st, c->timed_out ? error_kind::timeout : classify(ec),
             c->timed_out ? beast::error::timeout : ec);
        c->timed_out = false;
        close();
    };

    while (!sh.stop.load(std::memory_order_relaxed)) {
        std::chrono::nanoseconds intended;
        if (schedule) {
            if (!schedule->has_next()) break;
            // A connection that fell behind stops with the run: slots still owed at the end of
            // `duration` are not sent during the grace period.
            if (sh.now() >= plan.duration) break;
            intended = schedule->take();
            if (sh.now() < intended) {
                pause.expires_at(sh.origin + intended);
                co_await pause.async_wait(use_nothrow);
            }
        } else {
            intended = sh.now();
            if (intended >= plan.duration) break;
        }

        if (!c->socket.is_open()) {
            begin_op();
            auto [ec] = co_await c->socket.async_connect(sh.endpoint, use_nothrow);
            ++st.connects;
            if (ec) {
                end_op();
                fail(st, error_kind::connect, c->timed_out ? beast::error::timeout : ec);
                c->timed_out = false;
                close();
                if (sh.now() + plan.reconnect_pause < plan.duration) {
                    pause.expires_after(plan.reconnect_pause);
                    co_await pause.async_wait(use_nothrow);
                }
                continue;
            }
            end_op();
            beast::error_code ignored;
            c->socket.set_option(tcp::no_delay(true), ignored);
        }

        const std::size_t pick = sh.requests.pick(rng.next());
        const prebuilt_request& req = shared_requests[pick];
        std::string_view bytes = req.bytes;
        if (req.session_offset != std::string::npos) {
            stamp_session(own[pick].data() + req.session_offset, ++session_seq);
            bytes = own[pick];
        }
        ++st.sent;
        begin_op();
        auto [wec, written] =
            co_await asio::async_write(c->socket, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
        if (wec) {
            failed(wec);
            continue;
        }
        response_parser parser;
        parser.header_limit(plan.header_limit);
        parser.body_limit(plan.body_limit);
        auto [rec, read] = co_await http::async_read(c->socket, buffer, parser, use_nothrow);
        if (rec) {
            failed(rec);
            continue;
        }
        end_op();
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
    close();
    c->done = true;
    c->timer.cancel();
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
    tcp::endpoint endpoint;
    {
        asio::io_context resolve_ctx;
        tcp::resolver resolver(resolve_ctx);
        beast::error_code ec;
        const auto results = resolver.resolve(plan.host, plan.port, ec);
        if (ec || results.empty()) {
            out.fatal = "cannot resolve " + plan.host + ":" + plan.port + ": " + ec.message();
            return out;
        }
        endpoint = *results.begin();
    }

    const unsigned threads = std::max(1u, std::min(plan.threads, plan.connections));
    const auto hard_end = plan.duration + plan.grace;
    const auto seconds =
        static_cast<std::size_t>(std::chrono::ceil<std::chrono::seconds>(hard_end).count()) + 2;

    std::vector<std::unique_ptr<load_stats>> stats;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned t = 0; t < threads; ++t) {
        stats.push_back(std::make_unique<load_stats>());
        stats.back()->per_second.assign(seconds, 0);
        contexts.push_back(std::make_unique<asio::io_context>(1));
    }
    shared_run sh{plan, requests, endpoint, std::chrono::steady_clock::now(), {}, {}};
    out.origin_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(sh.origin.time_since_epoch()).count();
    std::atomic<unsigned> finished{0};
    std::string crash;  // an exception escaping a connection: reported, never fatal to the process
    std::mutex crash_mutex;
    for (unsigned c = 0; c < plan.connections; ++c) {
        const unsigned t = c % threads;
        asio::co_spawn(*contexts[t], run_connection(sh, *stats[t], c), [&](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::lock_guard lock(crash_mutex);
                if (crash.empty()) crash = x.what();
            }
        });
    }
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            contexts[t]->run();
            finished.fetch_add(1);
        });

    // Watchdog and progress: the run never outlives hard_end by more than the tick.
    const auto tick = std::chrono::milliseconds(100);
    auto next_report = sh.origin + std::chrono::seconds(1);
    while (finished.load() < threads) {
        std::this_thread::sleep_for(tick);
        const auto now = std::chrono::steady_clock::now();
        if (now - sh.origin > hard_end) {
            for (auto& c : contexts) c->stop();
            break;
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
    for (auto& w : workers) w.join();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - sh.origin).count();
    for (auto& s : stats) {
        // Requests still waiting for their answer when the run was stopped count as timeouts.
        const auto settled =
            s->answers() + s->failures() - s->errors[static_cast<std::size_t>(error_kind::connect)];
        if (s->sent > settled) {
            const auto k = static_cast<std::size_t>(error_kind::timeout);
            s->errors[k] += s->sent - settled;
            if (s->first_error[k].empty())
                s->first_error[k] = "no answer before the run ended (-d plus --grace)";
        }
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

// The PostgreSQL store's io thread and its public face. The io thread runs one coroutine per
// pooled connection: an idle connection takes every queued write (up to batch_max) into one
// pipeline BEGIN … COMMIT, or else one read; each operation then completes with its own
// statements' results. The operations themselves are in pg_write_ops.cpp and pg_read_ops.cpp.
#include "store/pg_store.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <functional>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "store/completion.hpp"
#include "store/pg_ops.hpp"
#include "store/pg_schema.hpp"
#include "store/pg_seed.hpp"
#include "store/pg_webhook_store.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto first_backoff = std::chrono::milliseconds(100);
constexpr auto max_backoff = std::chrono::milliseconds(2000);
// A write batch chosen as a deadlock victim or failing a serialization check was rolled back
// whole: nothing of it is committed, so it runs again, up to this many times in all, before its
// callers get an error. So does one whose operation hit a unique violation and now skips
// conflicting rows instead (pg_op::skip_conflicts).
constexpr int max_attempts = 4;

bool worth_retrying(const std::string& sqlstate) {
    return sqlstate == "40P01" || sqlstate == "40001";  // deadlock_detected, serialization_failure
}

constexpr std::string_view unique_violation = "23505";

// BEGIN, the batch's row locks in one order, each operation's statements, COMMIT; first[i] is
// where operation i's statements start (first[size] is past the last).
void build_statements(const std::vector<std::unique_ptr<pg_op>>& batch, bool write,
                      std::vector<pg_statement>& statements, std::vector<std::size_t>& first) {
    statements.clear();
    first.assign(batch.size() + 1, 0);
    if (write) {
        statements.push_back(pg_sql("BEGIN"));
        std::vector<std::string> rows;
        for (const auto& op : batch) op->rows_to_lock(rows);
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        if (!rows.empty()) statements.push_back(pg_lock_rows(rows));
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        first[i] = statements.size();
        batch[i]->add(statements);
    }
    first[batch.size()] = statements.size();
    if (write) statements.push_back(pg_sql("COMMIT"));
}

}  // namespace

// Everything the io thread owns. Members without a comment are touched on the io thread only.
struct pg_store::impl {
    impl(const pg_options& o, const store_options& c)
        : options(o), common(c), work(ioc.get_executor()), wake(ioc) {
        wake.expires_at(asio::steady_timer::time_point::max());
    }

    asio::awaitable<void> worker();
    asio::awaitable<bool> connect(pg_connection& conn);
    asio::awaitable<void> idle(pg_connection& conn);
    // Moves the next batch into `batch`: writes (true) when a writer slot is free, else one read.
    bool take_batch(std::vector<std::unique_ptr<pg_op>>& batch);
    asio::awaitable<void> run_batch(pg_connection& conn, std::vector<std::unique_ptr<pg_op>>& batch,
                                    bool write, std::vector<pg_statement>& statements);
    // One run of the statements: their results, or the failure; `retry` when a write lost a
    // deadlock or serialization conflict and was rolled back on a connection still usable.
    struct attempt_outcome {
        error_code ec;
        bool retry = false;
    };
    // `owner(i)` is the operation whose statements include statement i (nullptr: BEGIN, COMMIT).
    using statement_owner = std::function<pg_op*(std::size_t)>;
    asio::awaitable<attempt_outcome> attempt(pg_connection& conn, const std::vector<pg_statement>& statements,
                                             bool write, std::vector<pg_reply>& results,
                                             const statement_owner& owner);
    asio::awaitable<attempt_outcome> check_results(pg_connection& conn, const std::vector<pg_reply>& results,
                                                   std::size_t expected, bool write,
                                                   const statement_owner& owner);
    void fail_queued(error_code ec);
    void stop();

    const pg_options options;
    const store_options common;
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work;
    asio::steady_timer wake;  // idle workers wait on it; cancel() wakes them all
    std::deque<std::unique_ptr<pg_op>> writes, reads;
    std::size_t workers = 0, connected = 0, writers_busy = 0;
    bool stopping = false;
    bool outage_logged = false;
    // Read from any thread.
    std::atomic<std::size_t> writes_queued{0}, reads_queued{0};
    std::atomic<bool> closed{false};
    std::atomic<bool> creates_stopped{false};
    std::atomic<bool> reachable{true};  // false while no connection to the server can be made
    std::atomic<std::uint64_t> transactions{0}, jobs_committed{0}, events_applied{0};
};

void pg_store::impl::fail_queued(error_code ec) {
    auto w = std::move(writes);
    auto r = std::move(reads);
    writes.clear();
    reads.clear();
    writes_queued.fetch_sub(w.size(), std::memory_order_relaxed);
    reads_queued.fetch_sub(r.size(), std::memory_order_relaxed);
    for (auto& o : w) o->finish(ec, {});
    for (auto& o : r) o->finish(ec, {});
}

void pg_store::impl::stop() {
    stopping = true;
    wake.cancel();
}

asio::awaitable<void> pg_store::impl::worker() {
    pg_connection conn(ioc.get_executor());
    auto backoff = first_backoff;
    asio::steady_timer sleep(ioc);
    std::vector<pg_statement> statements;
    std::vector<std::unique_ptr<pg_op>> batch;
    for (;;) {
        if (!conn.is_open()) {
            if (stopping && writes.empty() && reads.empty()) break;
            if (co_await connect(conn)) {
                backoff = first_backoff;
            } else {
                if (stopping) break;
                sleep.expires_after(backoff);
                boost::system::error_code ignored;
                co_await sleep.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                backoff = std::min(backoff * 2, max_backoff);
                continue;
            }
        }
        batch.clear();
        const bool write = take_batch(batch);
        if (batch.empty()) {
            if (stopping) break;
            co_await idle(conn);
            continue;
        }
        co_await run_batch(conn, batch, write, statements);
    }
    conn.close();
    if (--workers == 0) {
        fail_queued(store_errc::closed);
        work.reset();
    }
}

asio::awaitable<bool> pg_store::impl::connect(pg_connection& conn) {
    std::string problem;
    try {
        co_await conn.connect(options.url, options.connect_timeout, pg_prepared_statements());
    } catch (const std::exception& e) {
        problem = e.what();
    }
    if (problem.empty()) {
        ++connected;
        reachable = true;
        if (outage_logged) spdlog::info("postgres: connected again to {}", redact_pg_url(options.url));
        outage_logged = false;
        co_return true;
    }
    if (!outage_logged) spdlog::error("{}; retrying", problem);
    outage_logged = true;
    // With no connection at all, waiting callers learn it now rather than after the outage;
    // new calls keep queueing for the next attempt.
    if (connected == 0) {
        reachable = false;
        fail_queued(stopping ? error_code(store_errc::closed) : error_code(store_errc::unavailable));
    }
    co_return false;
}

// Waits for work, but notices a session the server ended (a restart) now, rather than by
// failing the next batch on it.
asio::awaitable<void> pg_store::impl::idle(pg_connection& conn) {
    boost::system::error_code ignored;
    auto woke =
        co_await (wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored)) || conn.watch_idle());
    if (woke.index() == 1 && !std::get<1>(woke)) {
        spdlog::warn("postgres: the server ended an idle session; reconnecting");
        --connected;
    }
}

bool pg_store::impl::take_batch(std::vector<std::unique_ptr<pg_op>>& batch) {
    if (!writes.empty() && writers_busy < options.writers) {
        while (!writes.empty() && batch.size() < common.batch_max) {
            batch.push_back(std::move(writes.front()));
            writes.pop_front();
        }
        writes_queued.fetch_sub(batch.size(), std::memory_order_relaxed);
        pg_ops::coalesce_creates(batch);
        return true;
    }
    if (!reads.empty()) {
        batch.push_back(std::move(reads.front()));
        reads.pop_front();
        reads_queued.fetch_sub(1, std::memory_order_relaxed);
    }
    return false;
}

asio::awaitable<void> pg_store::impl::run_batch(pg_connection& conn,
                                                std::vector<std::unique_ptr<pg_op>>& batch, bool write,
                                                std::vector<pg_statement>& statements) {
    std::vector<std::size_t> first;
    build_statements(batch, write, statements, first);
    std::vector<pg_reply> results;
    if (write) ++writers_busy;
    const statement_owner owner = [&](std::size_t at) -> pg_op* {
        const auto next = std::upper_bound(first.begin(), first.end(), at);
        const auto i = static_cast<std::size_t>(next - first.begin());
        return i == 0 || i > batch.size() ? nullptr : batch[i - 1].get();
    };
    attempt_outcome out;
    for (int n = 1;; ++n) {
        out = co_await attempt(conn, statements, write, results, owner);
        if (!out.retry) break;
        if (n >= max_attempts) {
            spdlog::error(
                "postgres: a write batch lost {} deadlocks or serialization conflicts in a row; "
                "its {} operation(s) fail",
                n, batch.size());
            break;
        }
        build_statements(batch, write, statements, first);  // an op may have changed its form
    }
    if (write) --writers_busy;
    const error_code ec = out.ec;
    std::uint64_t jobs = 0;
    bool wrote = false;
    {
        completion_batch answers;  // one hand-over per io thread; no co_await while it is open
        for (std::size_t i = 0; i < batch.size(); ++i) {
            std::span<const pg_reply> mine;
            if (!ec) mine = std::span<const pg_reply>(results).subspan(first[i], first[i + 1] - first[i]);
            if (!ec && batch[i]->jobs() && mine.back().rows() > 0) jobs += batch[i]->jobs();
            batch[i]->finish(ec, mine);
            wrote = wrote || batch[i]->wrote();
        }
    }
    if (write && !ec && wrote) {
        transactions.fetch_add(1, std::memory_order_relaxed);
        jobs_committed.fetch_add(jobs, std::memory_order_relaxed);
    }
}

asio::awaitable<pg_store::impl::attempt_outcome> pg_store::impl::attempt(
    pg_connection& conn, const std::vector<pg_statement>& statements, bool write,
    std::vector<pg_reply>& results, const statement_owner& owner) {
    results.clear();
    try {
        results = co_await conn.exec(statements, options.query_timeout);
    } catch (const std::exception& e) {
        // The outcome of a commit in flight is unknown: its callers get an error, never a
        // success for a job that may not be durable.
        spdlog::error("{}; reconnecting", e.what());
        --connected;
        co_return attempt_outcome{store_errc::io};
    }
    co_return co_await check_results(conn, results, statements.size(), write, owner);
}

asio::awaitable<pg_store::impl::attempt_outcome> pg_store::impl::check_results(
    pg_connection& conn, const std::vector<pg_reply>& results, std::size_t expected, bool write,
    const statement_owner& owner) {
    const auto failed =
        std::find_if(results.begin(), results.end(), [](const pg_reply& r) { return !r.ok(); });
    if (failed == results.end())
        co_return attempt_outcome{results.size() == expected ? error_code{} : error_code(store_errc::io)};
    // A failed statement inside BEGIN leaves the session in an aborted transaction (the COMMIT
    // was skipped). A lost deadlock or serialization conflict is rolled back and run again, and
    // so is a unique violation of an operation that can skip the conflicting rows instead.
    // Anything else starts afresh on a new session.
    const std::string state = failed->sqlstate();
    pg_op* const culprit = owner(static_cast<std::size_t>(failed - results.begin()));
    if (write &&
        (worth_retrying(state) || (state == unique_violation && culprit && culprit->skip_conflicts()))) {
        spdlog::warn("postgres: a write batch was rolled back ({}); running it again", failed->error());
        bool rolled_back = false;
        const std::vector<pg_statement> rollback{pg_sql("ROLLBACK")};  // a named vector: GCC 12 coroutines
        try {
            const auto r = co_await conn.exec(rollback, options.query_timeout);
            rolled_back = !r.empty() && r.front().ok();
        } catch (const std::exception&) {
        }
        if (rolled_back) co_return attempt_outcome{store_errc::io, true};
    }
    spdlog::error("postgres: {} failed: {}", write ? "a write batch" : "a read", failed->error());
    conn.close();
    --connected;
    co_return attempt_outcome{store_errc::io};
}

pg_store::pg_store(pg_options options, store_options common)
    : options_(std::move(options)), common_(common), policy_json_(pg_policy_json(common_.lifecycle)) {
    if (options_.pool_size == 0) throw std::invalid_argument("store.pool_size must be at least 1");
    options_.writers =
        std::clamp<std::size_t>(options_.writers, 1, std::max<std::size_t>(1, options_.pool_size - 1));
    {
        char* err = nullptr;
        PQconninfoOption* parsed = PQconninfoParse(options_.url.c_str(), &err);
        if (!parsed) {
            std::string msg = err ? err : "cannot be parsed";
            if (err) PQfreemem(err);
            while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
            throw std::invalid_argument("store.url: \"" + redact_pg_url(options_.url) + "\": " + msg);
        }
        PQconninfoFree(parsed);
    }
    if (options_.instance_id.empty()) options_.instance_id = model::new_uuid();
    {
        auto conn = pg_connect_blocking(options_.url, options_.connect_timeout);
        migrate_pg(conn.get());
    }
    impl_ = std::make_shared<impl>(options_, common_);
    impl_->workers = options_.pool_size;
    for (std::size_t i = 0; i < options_.pool_size; ++i)
        asio::co_spawn(impl_->ioc, impl_->worker(), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    thread_ = std::thread([i = impl_] {
        ::pthread_setname_np(::pthread_self(), "jobsd-pg");
        i->ioc.run();
    });
    webhooks_ = std::make_unique<pg_webhook_store>([this](std::unique_ptr<pg_op> o) { submit(std::move(o)); },
                                                   options_.instance_id);
    spdlog::info("postgres store on {} ({} connections, instance {})", redact_pg_url(options_.url),
                 options_.pool_size, options_.instance_id);
}

pg_store::~pg_store() {
    impl_->closed = true;
    asio::post(impl_->ioc, [i = impl_] { i->stop(); });
    thread_.join();
}

void pg_store::submit(std::unique_ptr<pg_op> o) {
    const bool write = o->is_write();
    auto& counter = write ? impl_->writes_queued : impl_->reads_queued;
    const auto max = write ? common_.write_queue_max : common_.read_queue_max;
    if (impl_->closed.load()) {
        o->finish(store_errc::closed, {});
        return;
    }
    if (counter.fetch_add(1, std::memory_order_relaxed) >= max) {
        counter.fetch_sub(1, std::memory_order_relaxed);
        o->finish(store_errc::busy, {});
        return;
    }
    asio::post(impl_->ioc, [i = impl_.get(), o = std::move(o), write]() mutable {
        (write ? i->writes : i->reads).push_back(std::move(o));
        i->wake.cancel();
    });
}

void pg_store::stop_creating() {
    impl_->creates_stopped = true;
    asio::post(impl_->ioc, [i = impl_] {
        std::vector<std::unique_ptr<pg_op>> refused;
        std::erase_if(i->writes, [&](std::unique_ptr<pg_op>& o) {
            if (o->jobs() == 0) return false;
            refused.push_back(std::move(o));
            return true;
        });
        i->writes_queued.fetch_sub(refused.size(), std::memory_order_relaxed);
        for (auto& o : refused) o->finish(store_errc::closed, {});
    });
}

void pg_store::create_job(job_record job, asio::any_completion_handler<void(error_code)> handler) {
    if (impl_->creates_stopped) return complete(std::move(handler), error_code(store_errc::closed));
    submit(pg_ops::make_create_job_op(std::move(job), options_.instance_id, options_.claim_lease,
                                      common_.idempotency_window, std::move(handler)));
}

void pg_store::create_jobs(std::vector<job_record> jobs,
                           asio::any_completion_handler<void(error_code)> handler) {
    if (jobs.empty()) {
        complete(std::move(handler), error_code{});
        return;
    }
    submit(pg_ops::make_create_jobs_op(std::move(jobs), options_.instance_id, options_.claim_lease,
                                       common_.idempotency_window, std::move(handler)));
}

void pg_store::list_jobs(job_query query,
                         asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit(pg_ops::make_list_jobs_op(std::move(query), std::move(handler)));
}

void pg_store::list_batch(std::string account_id, std::string batch_id,
                          asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit(pg_ops::make_list_batch_op(std::move(account_id), std::move(batch_id), std::move(handler)));
}

void pg_store::find_job(std::string account_id, std::string uuid,
                        asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    submit(pg_ops::make_find_job_op(std::move(account_id), std::move(uuid), std::move(handler)));
}

void pg_store::find_by_idempotency_key(
    std::string account_id, std::string key,
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    const std::int64_t since_ms = model::now_ms() - common_.idempotency_window.count();
    submit(pg_ops::make_find_by_key_op(std::move(account_id), std::move(key), since_ms, std::move(handler)));
}

void pg_store::load_catalog(asio::any_completion_handler<void(error_code, catalog_ptr)> handler) {
    submit(pg_ops::make_load_catalog_op(std::move(handler)));
}

void pg_store::claim_unpublished(
    std::int64_t after_seq, std::size_t limit,
    asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler) {
    submit(pg_ops::make_claim_op(options_.instance_id, options_.claim_lease, after_seq, limit,
                                 std::move(handler)));
}

void pg_store::mark_published(std::vector<model::job_attempt> published,
                              asio::any_completion_handler<void(error_code)> handler) {
    submit(pg_ops::make_mark_published_op(std::move(published), std::move(handler)));
}

void pg_store::renew_claims(
    std::vector<std::string> uuids,
    asio::any_completion_handler<void(error_code, std::vector<std::string>)> handler) {
    if (uuids.empty()) return complete(std::move(handler), error_code{}, std::vector<std::string>{});
    submit(pg_ops::make_renew_claims_op(options_.instance_id, options_.claim_lease, std::move(uuids),
                                        std::move(handler)));
}

std::chrono::milliseconds pg_store::claim_lease() const noexcept {
    return options_.claim_lease;
}

void pg_store::apply_events(
    std::vector<model::job_event> events,
    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler) {
    submit(pg_ops::make_apply_events_op(std::move(events), impl_->events_applied, policy_json_,
                                        std::move(handler)));
}

void pg_store::read_outbox_stats(outbox_detail,
                                 asio::any_completion_handler<void(error_code, outbox_stats)> handler) {
    submit(pg_ops::make_outbox_stats_op(std::move(handler)));
}

void pg_store::count_jobs(asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) {
    submit(pg_ops::make_count_jobs_op(std::move(handler)));
}

void pg_store::list_recent_jobs(
    std::size_t limit, asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit(pg_ops::make_recent_jobs_op(limit, std::move(handler)));
}

void pg_store::apply_seed(const seed_data& seed) {
    auto conn = pg_connect_blocking(options_.url, options_.connect_timeout);
    write_pg_seed(conn.get(), seed);
}

store_stats pg_store::stats() const {
    return {impl_->transactions.load(std::memory_order_relaxed),
            impl_->jobs_committed.load(std::memory_order_relaxed),
            impl_->writes_queued.load(std::memory_order_relaxed),
            impl_->events_applied.load(std::memory_order_relaxed),
            common_.write_queue_max,
            impl_->reachable.load(std::memory_order_relaxed)};
}

}  // namespace jobsd::store

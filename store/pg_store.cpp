// The io thread runs one coroutine per pooled connection. An idle connection takes every
// queued write (up to batch_max) into one pipeline BEGIN … COMMIT, or else one read; each
// operation then completes with its own statements' results.
#include "store/pg_store.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <deque>
#include <span>

#include "model/uuid.hpp"
#include "store/completion.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_schema.hpp"
#include "store/pg_seed.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// The columns read_job() expects, in its order.
#define PG_JOB_COLUMNS                                                                                  \
    "uuid, account_id, source_id, job_type, job_status, session_id, input, output, error, created_ms, " \
    "updated_ms, "                                                                                      \
    "version, progress, idempotency_key, request_hash"

// Named statements, prepared on every connection.
const std::vector<pg_prepared>& prepared_statements() {
    static const std::vector<pg_prepared> all = {
        // ON CONFLICT DO NOTHING: a duplicate uuid or live idempotency key answers with no row
        // instead of aborting the whole batch's transaction. The new job is claimed by this
        // instance, which hands it to its publisher right after the commit.
        {"insert_job",
         "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms,"
         " updated_ms, version, idempotency_key, request_hash, claimed_by, claimed_until)"
         " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12,"
         " now() + $13::float8 * interval '1 millisecond') ON CONFLICT DO NOTHING RETURNING seq"},
        {"release_key",
         "UPDATE jobs SET idempotency_key = NULL WHERE account_id = $1 AND idempotency_key = $2 AND "
         "created_ms < $3"},
        {"find_job", "SELECT " PG_JOB_COLUMNS " FROM jobs WHERE uuid = $1 AND account_id = $2"},
        // Operator views: a scan, cached by the caller; the newest jobs by commit order.
        {"count_jobs", "SELECT job_type, job_status, count(*) FROM jobs GROUP BY job_type, job_status"},
        {"recent_jobs", "SELECT " PG_JOB_COLUMNS " FROM jobs ORDER BY seq DESC LIMIT $1"},
        {"find_by_key", "SELECT " PG_JOB_COLUMNS
                        " FROM jobs WHERE account_id = $1 AND idempotency_key = $2 AND created_ms >= $3"},
        // Unpublished jobs nobody holds (never claimed, lease over) or that this instance holds
        // (renewing its lease); SKIP LOCKED passes over rows another instance is claiming now.
        {"claim",
         "UPDATE jobs SET claimed_by = $1, claimed_until = now() + $2::float8 * interval '1 millisecond'"
         " WHERE seq IN (SELECT seq FROM jobs WHERE NOT published AND seq > $3"
         " AND (claimed_until IS NULL OR claimed_until < now() OR claimed_by = $1)"
         " ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING seq, " PG_JOB_COLUMNS},
        {"mark_published", "UPDATE jobs SET published = true WHERE uuid = ANY($1::text[])"},
        // Forward only, decided on the row itself: $7 lists the states the event may follow,
        // so instances applying the same events in any order end in the same state.
        {"apply_event",
         "UPDATE jobs SET job_status = $2, progress = coalesce($3::integer, progress), output = coalesce($4, "
         "output),"
         " error = coalesce($5, error), updated_ms = greatest(updated_ms, $6) WHERE uuid = $1"
         " AND job_status = ANY($7::text[]) RETURNING account_id, session_id, job_type"},
        {"outbox_stats", "SELECT count(*), min(created_ms) FROM jobs WHERE NOT published"},
    };
    return all;
}

using param = std::optional<std::string>;

std::string num(std::int64_t v) {
    return std::to_string(v);
}

std::string num(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

// A text[] literal.
std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += '"';
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

job_record read_job(const pg_reply& r, int row, int first) {
    job_record j;
    j.uuid = r.text(row, first + 0);
    j.account_id = r.text(row, first + 1);
    j.source_id = r.text(row, first + 2);
    j.type = model::parse_job_type(r.text(row, first + 3)).value_or(model::job_type::video);
    j.status = model::parse_job_status(r.text(row, first + 4)).value_or(model::job_status::queued);
    j.session_id = r.text(row, first + 5);
    j.input = r.text(row, first + 6);
    j.output = r.optional_text(row, first + 7);
    j.error = r.optional_text(row, first + 8);
    j.created_ms = r.int64(row, first + 9);
    j.updated_ms = r.int64(row, first + 10);
    j.version = r.optional_double(row, first + 11);
    if (auto p = r.optional_int64(row, first + 12)) j.progress = static_cast<int>(*p);
    j.idempotency_key = r.optional_text(row, first + 13).value_or("");
    j.request_hash = r.optional_text(row, first + 14).value_or("");
    return j;
}

pg_statement sql(std::string text) {
    return {std::move(text), {}, false};
}

}  // namespace

struct pg_store::op {
    virtual ~op() = default;
    // Appends this operation's statements.
    virtual void add(std::vector<pg_statement>& out, const pg_options& o) = 0;
    // Called once: with the results of its statements when `ec` is empty.
    virtual void finish(error_code ec, std::span<const pg_reply> results) = 0;
    virtual std::uint64_t jobs() const { return 0; }
    virtual bool is_write() const = 0;
};

namespace {

struct create_job_op final : pg_store::op {
    create_job_op(job_record j, std::string me, asio::any_completion_handler<void(error_code)> h)
        : job(std::move(j)), instance(std::move(me)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options& o) override {
        const bool keyed = !job.idempotency_key.empty();
        if (keyed)
            out.push_back(
                {"release_key",
                 {job.account_id, job.idempotency_key, num(job.created_ms - o.idempotency_window.count())}});
        out.push_back({"insert_job",
                       {job.uuid, job.account_id, job.source_id, std::string(model::to_string(job.type)),
                        std::string(model::to_string(job.status)), job.session_id, job.input,
                        num(job.created_ms), job.version ? param(num(*job.version)) : std::nullopt,
                        keyed ? param(job.idempotency_key) : std::nullopt,
                        keyed ? param(job.request_hash) : std::nullopt, instance,
                        num(static_cast<std::int64_t>(o.claim_lease.count()))}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        if (!ec && (results.empty() || results.back().rows() == 0)) ec = store_errc::duplicate;
        complete(std::move(handler), ec);
    }
    std::uint64_t jobs() const override { return 1; }
    bool is_write() const override { return true; }

    job_record job;
    std::string instance;
    asio::any_completion_handler<void(error_code)> handler;
};

struct mark_published_op final : pg_store::op {
    mark_published_op(std::vector<std::string> u, asio::any_completion_handler<void(error_code)> h)
        : uuids(std::move(u)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options&) override {
        out.push_back({"mark_published", {text_array(uuids)}});
    }
    void finish(error_code ec, std::span<const pg_reply>) override { complete(std::move(handler), ec); }
    bool is_write() const override { return true; }

    std::vector<std::string> uuids;
    asio::any_completion_handler<void(error_code)> handler;
};

struct apply_events_op final : pg_store::op {
    apply_events_op(std::vector<model::job_event> e, std::atomic<std::uint64_t>& counter,
                    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> h)
        : events(std::move(e)), applied_counter(counter), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options&) override {
        for (const auto& e : events) {
            std::vector<std::string> from;
            for (auto s :
                 {model::job_status::queued, model::job_status::started, model::job_status::in_progress,
                  model::job_status::success, model::job_status::failed})
                if (model::can_advance(s, e.status)) from.emplace_back(model::to_string(s));
            out.push_back({"apply_event",
                           {e.uuid, std::string(model::to_string(e.status)),
                            e.progress ? param(std::to_string(*e.progress)) : std::nullopt, e.output, e.error,
                            num(e.at_ms), text_array(from)}});
        }
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<applied_event> applied;
        if (!ec) {
            for (std::size_t i = 0; i < events.size() && i < results.size(); ++i) {
                if (results[i].rows() == 0) continue;  // late, duplicate or unknown: harmless
                applied.push_back(
                    {events[i], std::string(results[i].text(0, 0)), std::string(results[i].text(0, 1)),
                     model::parse_job_type(results[i].text(0, 2)).value_or(model::job_type::video)});
            }
            applied_counter.fetch_add(applied.size(), std::memory_order_relaxed);
        }
        complete(std::move(handler), ec, std::move(applied));
    }
    bool is_write() const override { return true; }

    std::vector<model::job_event> events;
    std::atomic<std::uint64_t>& applied_counter;
    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler;
};

struct find_job_op final : pg_store::op {
    find_job_op(std::string name, std::vector<std::string> args,
                asio::any_completion_handler<void(error_code, std::optional<job_record>)> h)
        : statement(std::move(name)), params(std::move(args)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options&) override {
        out.push_back({statement, {params.begin(), params.end()}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::optional<job_record> found;
        if (!ec && !results.empty() && results[0].rows() > 0) found = read_job(results[0], 0, 0);
        complete(std::move(handler), ec, std::move(found));
    }
    bool is_write() const override { return false; }

    std::string statement;
    std::vector<std::string> params;
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler;
};

struct claim_op final : pg_store::op {
    claim_op(std::string me, std::int64_t after, std::size_t n,
             asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> h)
        : instance(std::move(me)), after_seq(after), limit(n), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options& o) override {
        out.push_back({"claim",
                       {instance, num(static_cast<std::int64_t>(o.claim_lease.count())), num(after_seq),
                        num(static_cast<std::int64_t>(limit))}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<outbox_entry> out;
        if (!ec && !results.empty()) {
            const auto& r = results[0];
            for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), read_job(r, i, 1)});
            // RETURNING has no order: the relay pages by seq.
            std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
        }
        complete(std::move(handler), ec, std::move(out));
    }
    bool is_write() const override { return false; }

    std::string instance;
    std::int64_t after_seq;
    std::size_t limit;
    asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler;
};

struct outbox_stats_op final : pg_store::op {
    explicit outbox_stats_op(asio::any_completion_handler<void(error_code, outbox_stats)> h)
        : handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options&) override {
        out.push_back({"outbox_stats", {}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        outbox_stats stats;
        if (!ec && !results.empty() && results[0].rows() > 0) {
            stats.unpublished = static_cast<std::uint64_t>(results[0].int64(0, 0));
            stats.oldest_created_ms = results[0].optional_int64(0, 1);
        }
        complete(std::move(handler), ec, stats);
    }
    bool is_write() const override { return false; }

    asio::any_completion_handler<void(error_code, outbox_stats)> handler;
};

struct count_jobs_op final : pg_store::op {
    explicit count_jobs_op(asio::any_completion_handler<void(error_code, std::vector<job_count>)> h)
        : handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options&) override {
        out.push_back({"count_jobs", {}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<job_count> counts;
        if (!ec && !results.empty()) {
            const auto& r = results[0];
            for (int i = 0; i < r.rows(); ++i) {
                const auto type = model::parse_job_type(r.text(i, 0));
                const auto status = model::parse_job_status(r.text(i, 1));
                if (type && status)
                    counts.push_back({*type, *status, static_cast<std::uint64_t>(r.int64(i, 2))});
            }
        }
        complete(std::move(handler), ec, std::move(counts));
    }
    bool is_write() const override { return false; }

    asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler;
};

struct recent_jobs_op final : pg_store::op {
    recent_jobs_op(std::size_t n, asio::any_completion_handler<void(error_code, std::vector<job_record>)> h)
        : limit(n), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out, const pg_options&) override {
        out.push_back({"recent_jobs", {num(static_cast<std::int64_t>(limit))}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<job_record> jobs;
        if (!ec && !results.empty())
            for (int i = 0; i < results[0].rows(); ++i) jobs.push_back(read_job(results[0], i, 0));
        complete(std::move(handler), ec, std::move(jobs));
    }
    bool is_write() const override { return false; }

    std::size_t limit;
    asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler;
};

struct load_catalog_op final : pg_store::op {
    explicit load_catalog_op(asio::any_completion_handler<void(error_code, catalog_ptr)> h)
        : handler(std::move(h)) {}

    // One snapshot for all four tables.
    void add(std::vector<pg_statement>& out, const pg_options&) override {
        out.push_back(sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        out.push_back(sql("SELECT key_hash, account_id FROM api_keys WHERE revoked_ms IS NULL"));
        out.push_back(sql("SELECT key_hash FROM operator_keys WHERE revoked_ms IS NULL"));
        out.push_back(
            sql("SELECT id, account_id, name, type, start_ms, end_ms, mapping_fields FROM projects"));
        out.push_back(sql("SELECT id, account_id, name, prompt FROM image_prompts"));
        out.push_back(sql("COMMIT"));
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        if (ec || results.size() < 5) {
            complete(std::move(handler), ec ? ec : error_code(store_errc::io), catalog_ptr{});
            return;
        }
        auto cat = std::make_shared<model::catalog>();
        const auto& keys = results[1];
        for (int i = 0; i < keys.rows(); ++i)
            cat->account_by_key_hash.emplace(std::string(keys.text(i, 0)), std::string(keys.text(i, 1)));
        const auto& ops = results[2];
        for (int i = 0; i < ops.rows(); ++i) cat->operator_key_hashes.emplace(std::string(ops.text(i, 0)));
        const auto& projects = results[3];
        for (int i = 0; i < projects.rows(); ++i) {
            model::project p;
            p.id = projects.text(i, 0);
            p.account_id = projects.text(i, 1);
            p.name = projects.text(i, 2);
            p.type = projects.text(i, 3);
            p.start_ms = projects.optional_int64(i, 4);
            p.end_ms = projects.optional_int64(i, 5);
            boost::system::error_code jec;
            auto fields = boost::json::parse(projects.text(i, 6), jec);
            if (!jec && fields.is_object()) p.mapping_fields = std::move(fields.get_object());
            cat->projects.emplace(p.id, std::move(p));
        }
        const auto& prompts = results[4];
        for (int i = 0; i < prompts.rows(); ++i) {
            model::image_prompt ip{std::string(prompts.text(i, 0)), std::string(prompts.text(i, 1)),
                                   std::string(prompts.text(i, 2)), std::string(prompts.text(i, 3))};
            cat->image_prompts.emplace(ip.id, std::move(ip));
        }
        complete(std::move(handler), error_code{}, catalog_ptr(std::move(cat)));
    }
    bool is_write() const override { return false; }

    asio::any_completion_handler<void(error_code, catalog_ptr)> handler;
};

}  // namespace

// Everything the io thread owns. Members without a comment are touched on the io thread only.
struct pg_store::impl {
    explicit impl(const pg_options& o) : options(o), work(ioc.get_executor()), wake(ioc) {
        wake.expires_at(asio::steady_timer::time_point::max());
    }

    asio::awaitable<void> worker();
    void fail_queued(error_code ec);
    void stop();

    const pg_options options;
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work;
    asio::steady_timer wake;  // idle workers wait on it; cancel() wakes them all
    std::deque<std::unique_ptr<op>> writes, reads;
    std::size_t workers = 0, connected = 0, writers_busy = 0;
    bool stopping = false;
    bool outage_logged = false;
    // Read from any thread.
    std::atomic<std::size_t> writes_queued{0}, reads_queued{0};
    std::atomic<bool> closed{false};
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
    auto backoff = std::chrono::milliseconds(100);
    asio::steady_timer sleep(ioc);
    std::vector<pg_statement> statements;
    std::vector<std::unique_ptr<op>> batch;
    for (;;) {
        if (!conn.is_open()) {
            if (stopping && writes.empty() && reads.empty()) break;
            std::string problem;
            try {
                co_await conn.connect(options.url, options.connect_timeout, prepared_statements());
            } catch (const std::exception& e) {
                problem = e.what();
            }
            if (problem.empty()) {
                ++connected;
                backoff = std::chrono::milliseconds(100);
                if (outage_logged)
                    spdlog::info("postgres: connected again to {}", redact_pg_url(options.url));
                outage_logged = false;
            } else {
                if (!outage_logged) spdlog::error("{}; retrying", problem);
                outage_logged = true;
                // With no connection at all, waiting callers learn it now rather than after
                // the outage; new calls keep queueing for the next attempt.
                if (connected == 0)
                    fail_queued(stopping ? error_code(store_errc::closed) : error_code(store_errc::io));
                if (stopping) break;
                sleep.expires_after(backoff);
                boost::system::error_code ignored;
                co_await sleep.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
                backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
                continue;
            }
        }
        batch.clear();
        statements.clear();
        bool write = false;
        if (!writes.empty() && writers_busy < options.writers) {
            write = true;
            while (!writes.empty() && batch.size() < options.batch_max) {
                batch.push_back(std::move(writes.front()));
                writes.pop_front();
            }
            writes_queued.fetch_sub(batch.size(), std::memory_order_relaxed);
        } else if (!reads.empty()) {
            batch.push_back(std::move(reads.front()));
            reads.pop_front();
            reads_queued.fetch_sub(1, std::memory_order_relaxed);
        } else if (stopping) {
            break;
        } else {
            // Idle: wait for work, but notice a session the server ended (a restart) now,
            // rather than by failing the next batch on it.
            boost::system::error_code ignored;
            auto woke = co_await (wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored)) ||
                                  conn.watch_idle());
            if (woke.index() == 1 && !std::get<1>(woke)) {
                spdlog::warn("postgres: the server ended an idle session; reconnecting");
                --connected;
            }
            continue;
        }

        std::vector<std::size_t> first(batch.size() + 1);
        if (write) statements.push_back(sql("BEGIN"));
        for (std::size_t i = 0; i < batch.size(); ++i) {
            first[i] = statements.size();
            batch[i]->add(statements, options);
        }
        first[batch.size()] = statements.size();
        if (write) statements.push_back(sql("COMMIT"));

        error_code ec;
        std::vector<pg_reply> results;
        if (write) ++writers_busy;
        try {
            results = co_await conn.exec(statements, options.query_timeout);
        } catch (const std::exception& e) {
            // The outcome of a commit in flight is unknown: its callers get an error, never a
            // success for a job that may not be durable.
            spdlog::error("{}; reconnecting", e.what());
            --connected;
            ec = store_errc::io;
        }
        if (write) --writers_busy;
        if (!ec) {
            for (std::size_t i = 0; i < results.size(); ++i)
                if (!results[i].ok()) {
                    spdlog::error("postgres: {} failed: {}", write ? "a write batch" : "a read",
                                  results[i].error());
                    ec = store_errc::io;
                    // A failed statement inside BEGIN leaves the session in an aborted
                    // transaction (the COMMIT was skipped): start afresh on a new session.
                    conn.close();
                    --connected;
                    break;
                }
            if (results.size() != statements.size() && !ec) ec = store_errc::io;
        }
        std::uint64_t jobs = 0;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            std::span<const pg_reply> mine;
            if (!ec) mine = std::span<const pg_reply>(results).subspan(first[i], first[i + 1] - first[i]);
            if (!ec && batch[i]->jobs()) {
                if (mine.back().rows() > 0) jobs += batch[i]->jobs();
            }
            batch[i]->finish(ec, mine);
        }
        if (write && !ec) {
            transactions.fetch_add(1, std::memory_order_relaxed);
            jobs_committed.fetch_add(jobs, std::memory_order_relaxed);
        }
    }
    conn.close();
    if (--workers == 0) {
        fail_queued(store_errc::closed);
        work.reset();
    }
}

pg_store::pg_store(pg_options options) : options_(std::move(options)) {
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
    impl_ = std::make_shared<impl>(options_);
    impl_->workers = options_.pool_size;
    for (std::size_t i = 0; i < options_.pool_size; ++i)
        asio::co_spawn(impl_->ioc, impl_->worker(), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    thread_ = std::thread([i = impl_] { i->ioc.run(); });
    spdlog::info("postgres store on {} ({} connections, instance {})", redact_pg_url(options_.url),
                 options_.pool_size, options_.instance_id);
}

pg_store::~pg_store() {
    impl_->closed = true;
    asio::post(impl_->ioc, [i = impl_] { i->stop(); });
    thread_.join();
}

void pg_store::submit(std::unique_ptr<op> o) {
    const bool write = o->is_write();
    auto& counter = write ? impl_->writes_queued : impl_->reads_queued;
    const auto max = write ? options_.write_queue_max : options_.read_queue_max;
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

void pg_store::create_job(job_record job, asio::any_completion_handler<void(error_code)> handler) {
    submit(std::make_unique<create_job_op>(std::move(job), options_.instance_id, std::move(handler)));
}

void pg_store::find_job(std::string account_id, std::string uuid,
                        asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    submit(std::make_unique<find_job_op>(
        "find_job", std::vector<std::string>{std::move(uuid), std::move(account_id)}, std::move(handler)));
}

void pg_store::find_by_idempotency_key(
    std::string account_id, std::string key, std::int64_t since_ms,
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    submit(std::make_unique<find_job_op>(
        "find_by_key", std::vector<std::string>{std::move(account_id), std::move(key), num(since_ms)},
        std::move(handler)));
}

void pg_store::load_catalog(asio::any_completion_handler<void(error_code, catalog_ptr)> handler) {
    submit(std::make_unique<load_catalog_op>(std::move(handler)));
}

void pg_store::claim_unpublished(
    std::int64_t after_seq, std::size_t limit,
    asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler) {
    submit(std::make_unique<claim_op>(options_.instance_id, after_seq, limit, std::move(handler)));
}

void pg_store::mark_published(std::vector<std::string> uuids,
                              asio::any_completion_handler<void(error_code)> handler) {
    submit(std::make_unique<mark_published_op>(std::move(uuids), std::move(handler)));
}

void pg_store::apply_events(
    std::vector<model::job_event> events,
    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler) {
    submit(std::make_unique<apply_events_op>(std::move(events), impl_->events_applied, std::move(handler)));
}

void pg_store::read_outbox_stats(asio::any_completion_handler<void(error_code, outbox_stats)> handler) {
    submit(std::make_unique<outbox_stats_op>(std::move(handler)));
}

void pg_store::count_jobs(asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) {
    submit(std::make_unique<count_jobs_op>(std::move(handler)));
}

void pg_store::list_recent_jobs(
    std::size_t limit, asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit(std::make_unique<recent_jobs_op>(limit, std::move(handler)));
}

void pg_store::apply_seed(const seed_data& seed) {
    auto conn = pg_connect_blocking(options_.url, options_.connect_timeout);
    write_pg_seed(conn.get(), seed);
}

store_stats pg_store::stats() const {
    return {impl_->transactions.load(std::memory_order_relaxed),
            impl_->jobs_committed.load(std::memory_order_relaxed),
            impl_->writes_queued.load(std::memory_order_relaxed),
            impl_->events_applied.load(std::memory_order_relaxed)};
}

}  // namespace jobsd::store

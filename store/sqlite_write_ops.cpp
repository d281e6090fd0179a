// The SQLite writer's statements and its operations: each runs inside the batch's open
// transaction and answers for its own rows; the writer loop (sqlite_store.cpp) commits.
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "model/clock.hpp"
#include "model/trace_context.hpp"
#include "model/webhook_event.hpp"
#include "model/webhook_url.hpp"
#include "store/completion.hpp"
#include "store/sqlite_ops.hpp"
#include "store/sqlite_outbox_sql.hpp"
#include "store/sqlite_seed.hpp"
#include "store/sqlite_webhook_store.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace asio = boost::asio;

namespace {

constexpr std::string_view insert_job_sql =
    "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms, "
    "updated_ms, version, idempotency_key, request_hash, batch_id, attempt, expires_in_ms, expires_at_ms, "
    "priority, fair_key, traceparent, webhook_url, webhook_dest, webhook_events) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
    "?21)";

// An expired key is given up by its old job, so the unique index only guards live keys.
constexpr std::string_view release_key_sql =
    "UPDATE jobs SET idempotency_key = NULL WHERE account_id = ?1 AND idempotency_key = ?2 AND created_ms < "
    "?3";

// The deliveries one applied event causes: one per enabled endpoint of the account whose filter
// has the event's bit, and one for the job's own URL when its filter has it. ?1 job, ?2 account,
// ?3 event name, ?4 event bit, ?5 event time, ?6 now. The webhook-id is msg_ and 32 hex digits, the first
// 12 the time in ms (as UUIDv7 does): new ids land at the end of the unique index, one page per
// commit, where 128 random bits dirtied a page of it per delivery, each written to the WAL.
constexpr std::string_view record_deliveries_sql =
    "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, secret_owner, url, dest, job_uuid, event,"
    " event_ms, next_ms, created_ms)"
    " SELECT 'msg_' || printf('%012x', ?6) || lower(hex(randomblob(10))), e.account_id, e.id, e.id, e.url,"
    " e.id, ?1, ?3, ?5, ?6, ?6"
    " FROM webhook_endpoints e WHERE e.account_id = ?2 AND e.enabled = 1 AND (e.events & ?4) != 0"
    " UNION ALL"
    " SELECT 'msg_' || printf('%012x', ?6) || lower(hex(randomblob(10))), ?2, NULL, 'account:' || ?2,"
    " j.webhook_url, j.webhook_dest, ?1, ?3, ?5, ?6,"
    " ?6 FROM jobs j WHERE j.uuid = ?1 AND j.webhook_url IS NOT NULL AND (j.webhook_events & ?4) != 0";

error_code step_error(int rc) {
    if (rc == SQLITE_DONE) return {};
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return store_errc::duplicate;
    return store_errc::io;
}

// An older job of the account holding `job`'s key past the window gives it up.
bool release_expired_key(sqlite_writer_ctx& w, const job_record& job) {
    auto& rel = w.release_key;
    rel.bind(1, std::string_view(job.account_id));
    rel.bind(2, std::string_view(job.idempotency_key));
    rel.bind(3, job.created_ms - w.idempotency_window_ms);
    if (rel.run() == SQLITE_DONE) return true;
    spdlog::error("store: releasing an expired idempotency key failed: {}", w.db->error_message());
    return false;
}

// Inserts one job (releasing an expired holder of its key first): duplicate for a live key.
error_code insert(sqlite_writer_ctx& w, const job_record& job) {
    if (!job.idempotency_key.empty() && !release_expired_key(w, job)) return store_errc::io;
    auto& st = w.insert_job;
    st.bind(1, std::string_view(job.uuid));
    st.bind(2, std::string_view(job.account_id));
    st.bind(3, std::string_view(job.source_id));
    st.bind(4, model::to_string(job.type));
    st.bind(5, model::to_string(job.status));
    st.bind(6, std::string_view(job.session_id));
    st.bind(7, std::string_view(job.input));
    st.bind(8, job.created_ms);
    st.bind(9, job.version);
    if (job.idempotency_key.empty()) {
        st.bind_null(10);
        st.bind_null(11);
    } else {
        st.bind(10, std::string_view(job.idempotency_key));
        st.bind(11, std::string_view(job.request_hash));
    }
    if (job.batch_id.empty())
        st.bind_null(12);
    else
        st.bind(12, std::string_view(job.batch_id));
    st.bind(13, static_cast<std::int64_t>(job.attempt));
    st.bind(14, job.expires_in_ms);
    st.bind(15, job.expires_at_ms);
    st.bind(16, static_cast<std::int64_t>(job.priority));
    st.bind(17, job.fair_key);
    if (job.traceparent.empty())
        st.bind_null(18);
    else
        st.bind(18, std::string_view(job.traceparent));
    // A job's own webhook URL, its origin (what per-destination concurrency counts by) and its
    // event filter, in its row: NULL for a job that names none.
    const std::string webhook_dest = job.webhook_url.empty() ? "" : model::webhook_origin(job.webhook_url);
    if (job.webhook_url.empty()) {
        st.bind_null(19);
        st.bind_null(20);
        st.bind_null(21);
    } else {
        st.bind(19, std::string_view(job.webhook_url));
        st.bind(20, std::string_view(webhook_dest));
        st.bind(21, static_cast<std::int64_t>(job.webhook_events));
    }
    int rc = st.step();
    st.reset();
    if (rc == SQLITE_DONE && !job.fair_key) {
        rc = w.enter_outbox.step();
        w.enter_outbox.reset();
    }
    if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT)
        spdlog::error("store: insert of job {} failed: {} trace_id={}", job.uuid, w.db->error_message(),
                      model::trace_id_of(job.traceparent));
    return step_error(rc);
}

struct insert_job_op final : sqlite_write_op {
    insert_job_op(job_record j, sqlite_handler<> h) : job(std::move(j)), handler(std::move(h)) {}

    error_code execute(sqlite_writer_ctx& w) override { return insert(w, job); }
    void finish(error_code ec) override { complete(std::move(handler), ec); }
    std::uint64_t jobs() const override { return 1; }

    job_record job;
    sqlite_handler<> handler;
};

// All or none: the jobs go in under a savepoint, rolled back when any insert fails, so the
// batch's other operations in the same transaction are unaffected.
struct insert_jobs_op final : sqlite_write_op {
    insert_jobs_op(std::vector<job_record> j, sqlite_handler<> h)
        : batch(std::move(j)), handler(std::move(h)) {}

    error_code execute(sqlite_writer_ctx& w) override {
        if (w.savepoint.run() != SQLITE_DONE) {
            spdlog::error("store: SAVEPOINT failed: {}", w.db->error_message());
            return store_errc::io;
        }
        error_code ec;
        for (const auto& job : batch)
            if ((ec = insert(w, job))) break;
        if (ec && w.rollback_to.run() != SQLITE_DONE) {
            // The savepoint could not undo the partial batch: fail the whole transaction.
            spdlog::error("store: ROLLBACK TO failed: {}", w.db->error_message());
            throw std::runtime_error("a partial batch could not be rolled back");
        }
        if (w.release.run() != SQLITE_DONE) {
            spdlog::error("store: RELEASE failed: {}", w.db->error_message());
            throw std::runtime_error("a batch's savepoint could not be released");
        }
        return ec;
    }
    void finish(error_code ec) override { complete(std::move(handler), ec); }
    std::uint64_t jobs() const override { return batch.size(); }

    std::vector<job_record> batch;
    sqlite_handler<> handler;
};

struct mark_published_op final : sqlite_write_op {
    mark_published_op(std::vector<std::string> u, sqlite_handler<> h)
        : uuids(std::move(u)), handler(std::move(h)) {}

    error_code execute(sqlite_writer_ctx& w) override {
        auto& leave = w.db->cached(sqlite_outbox::leave);
        for (const auto& uuid : uuids) {
            leave.bind(1, std::string_view(uuid));
            if (leave.run() != SQLITE_DONE) {
                spdlog::error("store: marking {} published failed: {}", uuid, w.db->error_message());
                return store_errc::io;
            }
        }
        return {};
    }
    void finish(error_code ec) override { complete(std::move(handler), ec); }

    std::vector<std::string> uuids;
    sqlite_handler<> handler;
};

struct seed_op final : sqlite_write_op {
    explicit seed_op(const seed_data& s) : seed(s) {}

    error_code execute(sqlite_writer_ctx& w) override {
        try {
            write_sqlite_seed(*w.db, seed);
            return {};
        } catch (const std::exception& e) {
            problem = e.what();
            return store_errc::io;
        }
    }
    void finish(error_code ec) override {
        if (ec)
            done.set_exception(std::make_exception_ptr(std::runtime_error(
                "seed could not be written: " + (problem.empty() ? ec.message() : problem))));
        else
            done.set_value();
    }

    const seed_data& seed;
    std::string problem;
    // Owned by the op, so the writer thread sets it before it destroys it; apply_seed holds
    // only the future.
    std::promise<void> done;
};

}  // namespace

sqlite_writer_ctx::sqlite_writer_ctx(std::unique_ptr<sqlite_db> d, const store_options& common)
    : db(std::move(d)),
      begin(db->handle(), "BEGIN IMMEDIATE"),
      commit(db->handle(), "COMMIT"),
      rollback(db->handle(), "ROLLBACK"),
      savepoint(db->handle(), "SAVEPOINT op"),
      release(db->handle(), "RELEASE op"),
      rollback_to(db->handle(), "ROLLBACK TO op"),
      insert_job(db->handle(), insert_job_sql),
      enter_outbox(db->handle(), sqlite_outbox::enter_new),
      release_key(db->handle(), release_key_sql),
      record_deliveries(db->handle(), record_deliveries_sql),
      idempotency_window_ms(common.idempotency_window.count()),
      policy(common.lifecycle) {}

namespace sqlite_ops {

error_code record_webhook_deliveries(sqlite_writer_ctx& w, std::string_view uuid, std::string_view account,
                                     model::job_status status, std::int64_t at_ms,
                                     std::vector<board_entry>& fresh) {
    const auto* hook = model::webhook_event_for(status);
    if (!hook) return {};
    auto& st = w.record_deliveries;
    st.bind(1, uuid);
    st.bind(2, account);
    st.bind(3, hook->name);
    st.bind(4, static_cast<std::int64_t>(hook->bit));
    st.bind(5, at_ms);
    st.bind(6, model::now_ms());
    if (st.run() != SQLITE_DONE) {
        spdlog::error("store: recording webhook deliveries of job {} failed: {}", uuid,
                      w.db->error_message());
        return store_errc::io;
    }
    // The rows just inserted, for the hand-over to the dispatcher once the transaction commits.
    // Read back by their rowids (one writer: an INSERT … SELECT numbers its rows one after the
    // other), not with RETURNING: that opened an ephemeral table at every status change, and
    // its allocations cost the writer more than the statement (madvise, seen with perf).
    // A row this misses is not lost: the dispatcher's sweep of the table finds it.
    const auto n = sqlite3_changes64(w.db->handle());
    if (n <= 0) return {};
    const auto last = sqlite3_last_insert_rowid(w.db->handle());
    auto& rows = w.db->cached("SELECT seq, dest FROM webhook_deliveries WHERE seq > ?1 AND seq <= ?2");
    rows.bind(1, last - n);
    rows.bind(2, last);
    int rrc;
    while ((rrc = rows.step()) == SQLITE_ROW)
        fresh.push_back({rows.column_int(0), std::string(rows.column_text(1))});
    rows.reset();
    if (rrc == SQLITE_DONE) return {};
    spdlog::error("store: reading new webhook deliveries failed: {}", w.db->error_message());
    return store_errc::io;
}

std::unique_ptr<sqlite_write_op> make_insert_job_op(job_record job, sqlite_handler<> handler) {
    return std::make_unique<insert_job_op>(std::move(job), std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_insert_jobs_op(std::vector<job_record> jobs, sqlite_handler<> handler) {
    return std::make_unique<insert_jobs_op>(std::move(jobs), std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_mark_published_op(std::vector<std::string> uuids,
                                                        sqlite_handler<> handler) {
    return std::make_unique<mark_published_op>(std::move(uuids), std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_seed_op(const seed_data& seed, std::future<void>& settled) {
    auto op = std::make_unique<seed_op>(seed);
    settled = op->done.get_future();
    return op;
}

}  // namespace sqlite_ops

}  // namespace jobsd::store

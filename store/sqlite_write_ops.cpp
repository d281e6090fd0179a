// The SQLite writer's statements and its operations: each runs inside the batch's open
// transaction and answers for its own rows; the writer loop (sqlite_store.cpp) commits.
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "model/clock.hpp"
#include "model/trace_context.hpp"
#include "model/uuid.hpp"
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

// One delivery of a job's event to one target. ?1 the webhook-id, ?2 account, ?3 endpoint (NULL
// for the job's own URL), ?4 the secret's owner, ?5 url, ?6 dest, ?7 job, ?8 event name, ?9 event
// time, ?10 now. One row per statement, its values bound: an INSERT … SELECT of them all needed a
// statement journal and built each id in SQL, and cost the writer more than the job's own insert
// (bench/RESULTS.md, issue 15).
constexpr std::string_view record_delivery_sql =
    "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, secret_owner, url, dest, job_uuid, event,"
    " event_ms, next_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)";

constexpr std::string_view account_webhooks_sql =
    "SELECT id, url, events FROM webhook_endpoints WHERE account_id = ?1 AND enabled = 1";

constexpr std::string_view job_webhook_sql =
    "SELECT webhook_url, webhook_dest, webhook_events FROM jobs WHERE uuid = ?1 AND webhook_url IS NOT NULL";

// A webhook-id: msg_ and 32 hex digits, a UUIDv7's, so the first 12 are the time in ms: new ids
// land at the end of the unique index, one page per commit, where 128 random bits dirtied a page
// of it per delivery, each written to the WAL.
std::string new_webhook_id() {
    const std::string uuid = model::new_uuid();
    std::string id = "msg_";
    id.reserve(4 + 32);
    for (char c : uuid)
        if (c != '-') id += c;
    return id;
}

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
    if (rc != SQLITE_DONE) {
        if ((rc & 0xff) != SQLITE_CONSTRAINT)
            spdlog::error("store: insert of job {} failed: {} trace_id={}", job.uuid, w.db->error_message(),
                          model::trace_id_of(job.traceparent));
        return step_error(rc);
    }
    if (job.fair_key) return {};
    rc = w.enter_outbox.step();
    w.enter_outbox.reset();
    if (rc == SQLITE_DONE) return {};
    // Its row is in: whatever stopped the outbox entry, the job is not a duplicate.
    spdlog::error("store: the outbox entry of job {} failed: {} trace_id={}", job.uuid, w.db->error_message(),
                  model::trace_id_of(job.traceparent));
    return store_errc::io;
}

struct insert_job_op final : sqlite_write_op {
    insert_job_op(job_record j, sqlite_handler<> h) : job(std::move(j)), handler(std::move(h)) {}

    // No savepoint: a duplicate key fails the row's INSERT before it writes anything, and any
    // other failure (the disk, the outbox entry after the row) fails the whole transaction, so no
    // row is left without its outbox entry.
    error_code execute(sqlite_writer_ctx& w) override {
        const error_code ec = insert(w, job);
        if (ec && ec != store_errc::duplicate) throw std::runtime_error("the insert of a job failed");
        return ec;
    }
    void finish(error_code ec) override { complete(std::move(handler), ec); }
    std::uint64_t jobs() const override { return 1; }
    bool needs_savepoint() const override { return false; }

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
    bool needs_savepoint() const override { return false; }  // it has its own

    std::vector<job_record> batch;
    sqlite_handler<> handler;
};

struct mark_published_op final : sqlite_write_op {
    mark_published_op(std::vector<model::job_attempt> p, sqlite_handler<> h)
        : published(std::move(p)), handler(std::move(h)) {}

    error_code execute(sqlite_writer_ctx& w) override {
        auto& leave = w.db->cached(sqlite_outbox::leave_published);
        for (const auto& p : published) {
            leave.bind(1, std::string_view(p.uuid));
            leave.bind(2, static_cast<std::int64_t>(p.attempt));
            if (leave.run() != SQLITE_DONE) {
                spdlog::error("store: marking {} published failed: {}", p.uuid, w.db->error_message());
                return store_errc::io;
            }
        }
        return {};
    }
    void finish(error_code ec) override { complete(std::move(handler), ec); }

    std::vector<model::job_attempt> published;
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
      record_delivery(db->handle(), record_delivery_sql),
      idempotency_window_ms(common.idempotency_window.count()),
      policy(common.lifecycle) {}

namespace sqlite_ops {

error_code read_account_webhooks(sqlite_writer_ctx& w, std::string_view account,
                                 std::vector<webhook_target>& out) {
    auto& st = w.db->cached(account_webhooks_sql);
    st.bind(1, account);
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) {
        std::string id(st.column_text(0));
        out.push_back({id, std::string(st.column_text(1)), id, st.column_int(2)});
    }
    st.reset();
    if (rc == SQLITE_DONE) return {};
    spdlog::error("store: reading the webhook endpoints of account {} failed: {}", account,
                  w.db->error_message());
    return store_errc::io;
}

boost::system::result<std::optional<webhook_target>> read_job_webhook(sqlite_writer_ctx& w,
                                                                      std::string_view uuid) {
    auto& st = w.db->cached(job_webhook_sql);
    st.bind(1, uuid);
    const int rc = st.step();
    std::optional<webhook_target> own;
    if (rc == SQLITE_ROW)
        own = webhook_target{
            {}, std::string(st.column_text(0)), std::string(st.column_text(1)), st.column_int(2)};
    st.reset();
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return own;
    spdlog::error("store: reading the webhook of job {} failed: {}", uuid, w.db->error_message());
    return {boost::system::in_place_error, error_code(store_errc::io)};
}

error_code record_webhook_deliveries(sqlite_writer_ctx& w, std::string_view uuid, std::string_view account,
                                     model::job_status status, std::int64_t at_ms,
                                     const std::vector<webhook_target>& endpoints, const webhook_target* own,
                                     std::vector<board_entry>& fresh) {
    const auto* hook = model::webhook_event_for(status);
    if (!hook) return {};
    const auto bit = static_cast<std::int64_t>(hook->bit);
    const std::int64_t now = model::now_ms();
    std::string account_owner;
    auto record = [&](const webhook_target& t) -> error_code {
        if ((t.events & bit) == 0) return {};
        const bool endpoint = !t.endpoint_id.empty();
        if (!endpoint && account_owner.empty()) account_owner = "account:" + std::string(account);
        const std::string id = new_webhook_id();
        auto& st = w.record_delivery;
        st.bind(1, std::string_view(id));
        st.bind(2, account);
        if (endpoint)
            st.bind(3, std::string_view(t.endpoint_id));
        else
            st.bind_null(3);
        st.bind(4, endpoint ? std::string_view(t.endpoint_id) : std::string_view(account_owner));
        st.bind(5, std::string_view(t.url));
        st.bind(6, std::string_view(t.dest));
        st.bind(7, uuid);
        st.bind(8, hook->name);
        st.bind(9, at_ms);
        st.bind(10, now);
        if (st.run() != SQLITE_DONE) {
            spdlog::error("store: recording a webhook delivery of job {} failed: {}", uuid,
                          w.db->error_message());
            return store_errc::io;
        }
        // Its seq for the hand-over to the dispatcher once the transaction commits. A row
        // not handed over is not lost: the dispatcher's sweep of the table finds it.
        fresh.push_back({sqlite3_last_insert_rowid(w.db->handle()), t.dest});
        return {};
    };
    for (const auto& t : endpoints)
        if (auto ec = record(t)) return ec;
    if (own)
        if (auto ec = record(*own)) return ec;
    return {};
}

std::unique_ptr<sqlite_write_op> make_insert_job_op(job_record job, sqlite_handler<> handler) {
    return std::make_unique<insert_job_op>(std::move(job), std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_insert_jobs_op(std::vector<job_record> jobs, sqlite_handler<> handler) {
    return std::make_unique<insert_jobs_op>(std::move(jobs), std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_mark_published_op(std::vector<model::job_attempt> published,
                                                        sqlite_handler<> handler) {
    return std::make_unique<mark_published_op>(std::move(published), std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_seed_op(const seed_data& seed, std::future<void>& settled) {
    auto op = std::make_unique<seed_op>(seed);
    settled = op->done.get_future();
    return op;
}

}  // namespace sqlite_ops

}  // namespace jobsd::store

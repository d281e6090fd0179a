// The SQLite adapter's lifecycle operations (issue 16): cancel and retry of one job, the sweep
// of deadlines and retry backoffs, the control outbox and the stuck-job view. These are rare
// next to job writes, so each prepares its statements per call; writes run in the writer's
// open transaction like every other write, and a job they make CANCELLED or EXPIRED has its
// webhook deliveries recorded in it too.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "model/trace_context.hpp"
#include "model/webhook_event.hpp"
#include "store/completion.hpp"
#include "store/sqlite_job_row.hpp"
#include "store/sqlite_ops.hpp"
#include "store/sqlite_outbox_sql.hpp"
#include "store/sqlite_webhook_store.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace {

using model::job_status;

std::string select_jobs(std::string_view rest) {
    return "SELECT " + std::string(sqlite_job_columns) + " FROM jobs " + std::string(rest);
}

// The rows of a job query.
std::vector<job_record> read_jobs(sqlite_db& db, sqlite_statement& st) {
    std::vector<job_record> out;
    db.each_row(st, "reading jobs", [&](sqlite_statement& row) { out.push_back(read_sqlite_job(row, 0)); });
    return out;
}

std::optional<job_record> account_job(sqlite_db& db, const std::string& account_id, const std::string& uuid) {
    sqlite_statement st(db.handle(), select_jobs("WHERE uuid = ?1 AND account_id = ?2"));
    st.bind(1, std::string_view(uuid));
    st.bind(2, std::string_view(account_id));
    auto jobs = read_jobs(db, st);
    if (jobs.empty()) return std::nullopt;
    return std::move(jobs.front());
}

// Job `uuid` enters the outbox (statement `sql`, one of sqlite_outbox's) or leaves it.
void move_outbox(sqlite_db& db, std::string_view sql, const std::string& uuid) {
    auto& st = db.cached(sql);
    st.bind(1, std::string_view(uuid));
    db.run(st, "moving job " + uuid + " in the outbox");
}

// A cancel message for the job's current attempt enters the control outbox.
void add_cancel(sqlite_db& db, const job_record& job, std::int64_t now) {
    sqlite_statement st(db.handle(),
                        "INSERT INTO job_controls (uuid, job_type, kind, attempt, created_ms) "
                        "VALUES (?1, ?2, 'cancel', ?3, ?4)");
    st.bind(1, std::string_view(job.uuid));
    st.bind(2, model::to_string(job.type));
    st.bind(3, static_cast<std::int64_t>(job.attempt));
    st.bind(4, now);
    db.run(st, "queueing a cancel of job " + job.uuid);
}

// A write op whose work may throw sqlite_error; `Derived::write(db)` (or `write(w)`, for one that
// records webhook deliveries) does it and fills the value.
template <class Derived, class Value>
struct lifecycle_write : sqlite_write_op {
    explicit lifecycle_write(sqlite_handler<Value> h, sqlite_webhook_store* hooks = nullptr)
        : handler(std::move(h)), webhooks(hooks) {}

    error_code execute(sqlite_writer_ctx& w) override {
        fresh.clear();
        try {
            auto& self = *static_cast<Derived*>(this);
            if constexpr (requires { self.write(w); })
                self.write(w);
            else
                self.write(*w.db);
            return {};
        } catch (const std::exception& e) {
            spdlog::error("store: {} failed: {}", Derived::what, e.what());
            value = Value{};
            return store_errc::io;
        }
    }
    void finish(error_code ec) override {
        if (ec) value = Value{};
        // Committed: the dispatcher may take the deliveries (before the waiter wakes it up).
        if (!ec && webhooks && !fresh.empty()) webhooks->handed_over(std::move(fresh));
        complete(std::move(handler), ec, std::move(value));
    }

    // The webhook deliveries of a job this op ended as `status`, in the op's transaction.
    void record_deliveries(sqlite_writer_ctx& w, const job_record& job, job_status status,
                           std::int64_t at_ms) {
        if (!model::webhook_event_for(status)) return;
        std::vector<sqlite_ops::webhook_target> endpoints;
        auto own = sqlite_ops::read_job_webhook(w, job.uuid);
        if (sqlite_ops::read_account_webhooks(w, job.account_id, endpoints) || !own ||
            sqlite_ops::record_webhook_deliveries(w, job.uuid, job.account_id, status, at_ms, endpoints,
                                                  *own ? &**own : nullptr, fresh))
            throw sqlite_error("recording the webhook deliveries of job " + job.uuid, SQLITE_ERROR);
    }

    Value value{};
    sqlite_handler<Value> handler;
    sqlite_webhook_store* webhooks;  // may be null
    std::vector<board_entry> fresh;  // the deliveries recorded, for the hand-over
};

struct cancel_job_op final : lifecycle_write<cancel_job_op, cancel_outcome> {
    cancel_job_op(std::string a, std::string u, std::int64_t t, sqlite_webhook_store* hooks,
                  sqlite_handler<cancel_outcome> h)
        : lifecycle_write(std::move(h), hooks), account_id(std::move(a)), uuid(std::move(u)), now(t) {}
    static constexpr const char* what = "cancelling a job";

    void write(sqlite_writer_ctx& w) {
        auto& db = *w.db;
        auto job = account_job(db, account_id, uuid);
        if (!job) return;  // not_found
        using kind = cancel_outcome::kind;
        if (job->status == job_status::queued) {
            // Out of the outbox (and off any retry) at once; the cancel message reaches a worker
            // that holds it anyway (the publisher may have sent it already).
            sqlite_statement st(
                db.handle(),
                "UPDATE jobs SET job_status = ?2, retry_at_ms = NULL, fair_key = NULL,"
                " cancel_requested_ms = ?3, updated_ms = max(updated_ms, ?3) WHERE uuid = ?1");
            st.bind(1, std::string_view(uuid));
            st.bind(2, model::to_string(job_status::cancelled));
            st.bind(3, now);
            db.run(st, "cancelling job " + uuid);
            move_outbox(db, sqlite_outbox::leave, uuid);
            add_cancel(db, *job, now);
            record_deliveries(w, *job, job_status::cancelled, now);
            job->status = job_status::cancelled;
            job->cancel_requested_ms = now;
            job->retry_at_ms.reset();
            job->fair_key.reset();
            job->updated_ms = std::max(job->updated_ms, now);
            value = {kind::cancelled, true, std::move(job)};
        } else if (job->status == job_status::started || job->status == job_status::in_progress) {
            const bool first = !job->cancel_requested_ms;
            if (first) {
                sqlite_statement st(db.handle(), "UPDATE jobs SET cancel_requested_ms = ?2 WHERE uuid = ?1");
                st.bind(1, std::string_view(uuid));
                st.bind(2, now);
                db.run(st, "requesting the cancel of job " + uuid);
                add_cancel(db, *job, now);
                job->cancel_requested_ms = now;
            }
            value = {kind::cancel_requested, first, std::move(job)};
        } else {
            value = {job->status == job_status::cancelled ? kind::cancelled : kind::finished, false,
                     std::move(job)};
        }
    }

    std::string account_id, uuid;
    std::int64_t now;
};

struct retry_job_op final : lifecycle_write<retry_job_op, retry_outcome> {
    retry_job_op(std::string a, std::string u, std::optional<std::int64_t> ttl, std::int64_t t,
                 sqlite_handler<retry_outcome> h)
        : lifecycle_write(std::move(h)),
          account_id(std::move(a)),
          uuid(std::move(u)),
          expires_in(ttl),
          now(t) {}
    static constexpr const char* what = "retrying a job";

    void write(sqlite_db& db) {
        auto job = account_job(db, account_id, uuid);
        if (!job) return;  // not_found
        const auto s = job->status;
        if (s != job_status::failed && s != job_status::cancelled && s != job_status::expired) {
            value = {retry_outcome::kind::not_retryable, std::move(job)};
            return;
        }
        if (expires_in) job->expires_in_ms = expires_in;
        job->expires_at_ms = job->expires_in_ms ? std::optional(now + *job->expires_in_ms) : std::nullopt;
        sqlite_statement st(db.handle(),
                            "UPDATE jobs SET job_status = ?2, attempt = attempt + 1, retry_at_ms = NULL,"
                            " progress = NULL, output = NULL, cancel_requested_ms = NULL, expires_in_ms = ?3,"
                            " expires_at_ms = ?4, updated_ms = max(updated_ms, ?5) WHERE uuid = ?1");
        st.bind(1, std::string_view(uuid));
        st.bind(2, model::to_string(job_status::queued));
        st.bind(3, job->expires_in_ms);
        st.bind(4, job->expires_at_ms);
        st.bind(5, now);
        db.run(st, "retrying job " + uuid);
        move_outbox(db, sqlite_outbox::enter, uuid);
        job->status = job_status::queued;
        ++job->attempt;
        job->progress.reset();
        job->output.reset();
        job->cancel_requested_ms.reset();
        job->updated_ms = std::max(job->updated_ms, now);
        value = {retry_outcome::kind::retried, std::move(job)};
    }

    std::string account_id, uuid;
    std::optional<std::int64_t> expires_in;
    std::int64_t now;
};

struct sweep_op final : lifecycle_write<sweep_op, lifecycle_sweep> {
    sweep_op(sweep_request r, sqlite_webhook_store* hooks, sqlite_handler<lifecycle_sweep> h)
        : lifecycle_write(std::move(h), hooks), request(std::move(r)), now(request.now_ms) {}
    static constexpr const char* what = "the lifecycle sweep";
    bool wrote() const override {
        return !value.expired.empty() || !value.expired_unconsumed.empty() || !value.due.empty();
    }

    void write(sqlite_writer_ctx& w) {
        value = {};
        expire_waiting(w);
        expire_unconsumed(w);
        release_retries(*w.db);
        if (request.probe_deadline_ms) {
            auto& probe = w.db->cached(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1 "
                "AND "
                "job_status = 'QUEUED')");
            probe.bind(1, *request.probe_deadline_ms);
            w.db->each_row(probe, "probing for overdue jobs",
                           [&](sqlite_statement& row) { value.overdue = row.column_int(0) != 0; });
        }
    }

    // Index jobs_expiring: the queued jobs with a deadline (the literal 'QUEUED' lets the
    // planner use it); of those, the ones in the outbox or the fair queue.
    void expire_waiting(sqlite_writer_ctx& w) {
        auto& find =
            w.db->cached(select_jobs("WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1 AND "
                                     "job_status = 'QUEUED' AND (fair_key IS NOT NULL OR " +
                                     std::string(sqlite_outbox::waiting) + ") LIMIT ?2"));
        find.bind(1, now);
        find.bind(2, static_cast<std::int64_t>(request.limit));
        for (auto& job : read_jobs(*w.db, find)) expire(w, job, value.expired);
    }

    // The same index, for the published jobs of each type no worker consumes.
    void expire_unconsumed(sqlite_writer_ctx& w) {
        auto& find = w.db->cached(
            select_jobs("WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1 AND job_status = 'QUEUED' "
                        "AND job_type = ?2 LIMIT ?3"));
        for (const auto type : request.unconsumed) {
            const auto room = request.limit - std::min(request.limit, value.expired_unconsumed.size());
            if (room == 0) return;
            find.bind(1, request.unconsumed_deadline_ms);
            find.bind(2, model::to_string(type));
            find.bind(3, static_cast<std::int64_t>(room));
            for (auto& job : read_jobs(*w.db, find)) expire(w, job, value.expired_unconsumed);
        }
    }

    void expire(sqlite_writer_ctx& w, const job_record& job, std::vector<applied_event>& into) {
        auto& db = *w.db;
        auto& st = db.cached(
            "UPDATE jobs SET job_status = ?2, fair_key = NULL, retry_at_ms = NULL, updated_ms = "
            "max(updated_ms, ?3) WHERE uuid = ?1");
        st.bind(1, std::string_view(job.uuid));
        st.bind(2, model::to_string(job_status::expired));
        st.bind(3, now);
        db.run(st, "expiring job " + job.uuid);
        move_outbox(db, sqlite_outbox::leave, job.uuid);
        record_deliveries(w, job, job_status::expired, now);
        model::job_event e;
        e.uuid = job.uuid;
        e.status = job_status::expired;
        e.attempt = job.attempt;
        e.at_ms = now;
        e.trace_id = model::trace_id_of(job.traceparent);
        into.push_back({std::move(e), job.account_id, job.session_id, job.type});
    }

    void release_retries(sqlite_db& db) {
        auto& find =
            db.cached(select_jobs("WHERE retry_at_ms IS NOT NULL AND retry_at_ms <= ?1 AND "
                                  "job_status = ?2 ORDER BY retry_at_ms LIMIT ?3"));
        find.bind(1, now);
        find.bind(2, model::to_string(job_status::queued));
        find.bind(3, static_cast<std::int64_t>(request.limit));
        auto& release = db.cached("UPDATE jobs SET retry_at_ms = NULL WHERE uuid = ?1");
        for (auto& job : read_jobs(db, find)) {
            release.bind(1, std::string_view(job.uuid));
            db.run(release, "releasing the retry of job " + job.uuid);
            move_outbox(db, sqlite_outbox::enter, job.uuid);
            job.retry_at_ms.reset();
            value.due.push_back(std::move(job));
        }
    }

    sweep_request request;
    std::int64_t now;
};

struct release_held_op final : lifecycle_write<release_held_op, std::vector<job_record>> {
    release_held_op(model::job_type t, std::size_t n, sqlite_handler<std::vector<job_record>> h)
        : lifecycle_write(std::move(h)), type(t), limit(n) {}
    static constexpr const char* what = "releasing held jobs";
    bool wrote() const override { return !value.empty(); }

    // Index jobs_held: the type's held jobs in fair_key order.
    void write(sqlite_db& db) {
        auto& find =
            db.cached(select_jobs("WHERE fair_key IS NOT NULL AND job_type = ?1 AND "
                                  "job_status = ?2 ORDER BY fair_key LIMIT ?3"));
        find.bind(1, model::to_string(type));
        find.bind(2, model::to_string(job_status::queued));
        find.bind(3, static_cast<std::int64_t>(limit));
        auto& release = db.cached("UPDATE jobs SET fair_key = NULL WHERE uuid = ?1");
        value = read_jobs(db, find);
        for (const auto& job : value) {
            release.bind(1, std::string_view(job.uuid));
            db.run(release, "releasing held job " + job.uuid);
            move_outbox(db, sqlite_outbox::enter, job.uuid);
        }
    }

    model::job_type type;
    std::size_t limit;
};

struct remove_controls_op final : sqlite_write_op {
    remove_controls_op(std::vector<std::int64_t> s, sqlite_handler<> h)
        : seqs(std::move(s)), handler(std::move(h)) {}

    error_code execute(sqlite_writer_ctx& w) override {
        try {
            sqlite_statement st(w.db->handle(), "DELETE FROM job_controls WHERE seq = ?1");
            for (auto seq : seqs) {
                st.bind(1, seq);
                w.db->run(st, "removing control message " + std::to_string(seq));
            }
            return {};
        } catch (const std::exception& e) {
            spdlog::error("store: {}", e.what());
            return store_errc::io;
        }
    }
    void finish(error_code ec) override { complete(std::move(handler), ec); }

    std::vector<std::int64_t> seqs;
    sqlite_handler<> handler;
};

struct list_controls_op final : occasional_read<list_controls_op, std::vector<control_entry>> {
    list_controls_op(std::size_t n, sqlite_handler<std::vector<control_entry>> h)
        : occasional_read(std::move(h)), limit(n) {}
    static constexpr const char* what = "reading the control outbox";

    std::vector<control_entry> read(sqlite_db& db) {
        sqlite_statement st(db.handle(),
                            "SELECT seq, uuid, job_type, kind, attempt, created_ms FROM job_controls "
                            "ORDER BY seq LIMIT ?1");
        st.bind(1, static_cast<std::int64_t>(limit));
        std::vector<control_entry> out;
        int rc;
        while ((rc = st.step()) == SQLITE_ROW) {
            auto type = model::parse_job_type(st.column_text(2));
            if (!type) continue;  // a type this build does not know: left for one that does
            out.push_back({st.column_int(0), std::string(st.column_text(1)), *type,
                           std::string(st.column_text(3)), static_cast<int>(st.column_int(4)),
                           st.column_int(5)});
        }
        if (rc != SQLITE_DONE) throw sqlite_error(db.error_message(), rc);
        return out;
    }

    std::size_t limit;
};

struct stuck_jobs_op final : occasional_read<stuck_jobs_op, std::vector<job_record>> {
    stuck_jobs_op(std::array<std::int64_t, model::all_job_types.size()> c, std::size_t n,
                  sqlite_handler<std::vector<job_record>> h)
        : occasional_read(std::move(h)), cutoffs(c), limit(n) {}
    static constexpr const char* what = "listing stuck jobs";

    // Reads the running jobs older than the loosest cutoff (index jobs_running), then applies
    // each type's own.
    std::vector<job_record> read(sqlite_db& db) {
        sqlite_statement st(db.handle(), select_jobs("WHERE job_status IN ('STARTED', 'IN_PROGRESS') AND "
                                                     "updated_ms < ?1 ORDER BY updated_ms"));
        st.bind(1, *std::max_element(cutoffs.begin(), cutoffs.end()));
        std::vector<job_record> out;
        for (auto& job : read_jobs(db, st)) {
            if (job.updated_ms >= cutoffs[static_cast<std::size_t>(job.type)]) continue;
            out.push_back(std::move(job));
            if (out.size() >= limit) break;
        }
        return out;
    }

    std::array<std::int64_t, model::all_job_types.size()> cutoffs;
    std::size_t limit;
};

}  // namespace

namespace sqlite_ops {

std::unique_ptr<sqlite_write_op> make_cancel_job_op(std::string account_id, std::string uuid,
                                                    std::int64_t now_ms, sqlite_webhook_store* webhooks,
                                                    sqlite_handler<cancel_outcome> handler) {
    return std::make_unique<cancel_job_op>(std::move(account_id), std::move(uuid), now_ms, webhooks,
                                           std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_retry_job_op(std::string account_id, std::string uuid,
                                                   std::optional<std::int64_t> expires_in_ms,
                                                   std::int64_t now_ms,
                                                   sqlite_handler<retry_outcome> handler) {
    return std::make_unique<retry_job_op>(std::move(account_id), std::move(uuid), expires_in_ms, now_ms,
                                          std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_sweep_op(sweep_request request, sqlite_webhook_store* webhooks,
                                               sqlite_handler<lifecycle_sweep> handler) {
    return std::make_unique<sweep_op>(std::move(request), webhooks, std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_release_held_op(model::job_type type, std::size_t limit,
                                                      sqlite_handler<std::vector<job_record>> handler) {
    return std::make_unique<release_held_op>(type, limit, std::move(handler));
}

std::unique_ptr<sqlite_write_op> make_remove_controls_op(std::vector<std::int64_t> seqs,
                                                         sqlite_handler<> handler) {
    return std::make_unique<remove_controls_op>(std::move(seqs), std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_list_controls_op(std::size_t limit,
                                                      sqlite_handler<std::vector<control_entry>> handler) {
    return std::make_unique<list_controls_op>(limit, std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_stuck_jobs_op(
    std::array<std::int64_t, model::all_job_types.size()> cutoffs, std::size_t limit,
    sqlite_handler<std::vector<job_record>> handler) {
    return std::make_unique<stuck_jobs_op>(cutoffs, limit, std::move(handler));
}

}  // namespace sqlite_ops

}  // namespace jobsd::store

// Group commit: the writer takes every write queued at that moment (up to batch_max) into one
// BEGIN IMMEDIATE … COMMIT, then completes each waiter with its own row's outcome.
#include "store/sqlite_store.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <future>

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "store/completion.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_schema.hpp"
#include "store/store_error.hpp"
#include "store/task_queue.hpp"

namespace jobsd::store {

namespace asio = boost::asio;

namespace {

constexpr std::string_view insert_job_sql =
    "INSERT INTO jobs (uuid, account_id, source_id, job_type, job_status, session_id, input, created_ms, "
    "updated_ms,"
    " version, idempotency_key, request_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11)";

// An expired key is given up by its old job, so the unique index only guards live keys.
constexpr std::string_view release_key_sql =
    "UPDATE jobs SET idempotency_key = NULL WHERE account_id = ?1 AND idempotency_key = ?2 AND created_ms < "
    "?3";

// The columns read_job() expects, in its order.
#define JOB_COLUMNS                                                                                     \
    "uuid, account_id, source_id, job_type, job_status, session_id, input, output, error, created_ms, " \
    "updated_ms, "                                                                                      \
    "version, progress, idempotency_key, request_hash"

constexpr std::string_view find_job_sql =
    "SELECT " JOB_COLUMNS " FROM jobs WHERE uuid = ?1 AND account_id = ?2";

constexpr std::string_view find_by_key_sql =
    "SELECT " JOB_COLUMNS " FROM jobs WHERE account_id = ?1 AND idempotency_key = ?2 AND created_ms >= ?3";

constexpr std::string_view list_unpublished_sql =
    "SELECT seq, " JOB_COLUMNS " FROM jobs WHERE published = 0 AND seq > ?1 ORDER BY seq LIMIT ?2";

constexpr std::string_view count_jobs_sql =
    "SELECT job_type, job_status, count(*) FROM jobs GROUP BY job_type, job_status";

constexpr std::string_view recent_jobs_sql = "SELECT " JOB_COLUMNS " FROM jobs ORDER BY seq DESC LIMIT ?1";

constexpr std::string_view mark_published_sql = "UPDATE jobs SET published = 1 WHERE uuid = ?1";

constexpr std::string_view job_state_sql =
    "SELECT job_status, account_id, session_id, job_type FROM jobs WHERE uuid = ?1";

constexpr std::string_view update_status_sql =
    "UPDATE jobs SET job_status = ?2, progress = coalesce(?3, progress), output = coalesce(?4, output),"
    " error = coalesce(?5, error), updated_ms = max(updated_ms, ?6) WHERE uuid = ?1";

// Reads JOB_COLUMNS starting at column `first`.
job_record read_job(const sqlite_statement& st, int first) {
    job_record j;
    j.uuid = st.column_text(first + 0);
    j.account_id = st.column_text(first + 1);
    j.source_id = st.column_text(first + 2);
    j.type = model::parse_job_type(st.column_text(first + 3)).value_or(model::job_type::video);
    j.status = model::parse_job_status(st.column_text(first + 4)).value_or(model::job_status::queued);
    j.session_id = st.column_text(first + 5);
    j.input = st.column_text(first + 6);
    j.output = st.column_optional_text(first + 7);
    j.error = st.column_optional_text(first + 8);
    j.created_ms = st.column_int(first + 9);
    j.updated_ms = st.column_int(first + 10);
    j.version = st.column_optional_double(first + 11);
    if (auto p = st.column_optional_int(first + 12)) j.progress = static_cast<int>(*p);
    j.idempotency_key = st.column_text(first + 13);
    j.request_hash = st.column_text(first + 14);
    return j;
}

struct writer_ctx {
    explicit writer_ctx(std::unique_ptr<sqlite_db> d)
        : db(std::move(d)),
          begin(db->handle(), "BEGIN IMMEDIATE"),
          commit(db->handle(), "COMMIT"),
          rollback(db->handle(), "ROLLBACK"),
          insert_job(db->handle(), insert_job_sql),
          release_key(db->handle(), release_key_sql),
          mark_published(db->handle(), mark_published_sql),
          job_state(db->handle(), job_state_sql),
          update_status(db->handle(), update_status_sql) {}
    std::unique_ptr<sqlite_db> db;
    sqlite_statement begin, commit, rollback, insert_job, release_key, mark_published, job_state,
        update_status;
    std::int64_t idempotency_window_ms = 0;
};

struct reader_ctx {
    explicit reader_ctx(const std::filesystem::path& path)
        : db(path, sqlite_db::mode::read_only),
          find_job(db.handle(), find_job_sql),
          find_by_key(db.handle(), find_by_key_sql),
          list_unpublished(db.handle(), list_unpublished_sql) {}
    sqlite_db db;
    sqlite_statement find_job, find_by_key, list_unpublished;
};

}  // namespace

struct sqlite_store::write_op {
    virtual ~write_op() = default;
    // Runs inside the open transaction. A failure returned here is this operation's alone.
    virtual error_code execute(writer_ctx& w) = 0;
    // Called once after the transaction ended, with the operation's outcome.
    virtual void finish(error_code ec) = 0;
    virtual std::uint64_t jobs() const { return 0; }
};

struct sqlite_store::read_op {
    virtual ~read_op() = default;
    virtual void run(reader_ctx& r) = 0;
    virtual void fail(error_code ec) = 0;
};

struct sqlite_store::queues {
    queues(std::size_t writes, std::size_t reads) : write(writes), read(reads) {}
    task_queue<std::unique_ptr<write_op>> write;
    task_queue<std::unique_ptr<read_op>> read;
    std::unique_ptr<writer_ctx> writer;  // handed to the writer thread at start
};

namespace {

error_code step_error(int rc) {
    if (rc == SQLITE_DONE) return {};
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return store_errc::duplicate;
    return store_errc::io;
}

struct insert_job_op final : sqlite_store::write_op {
    insert_job_op(job_record j, asio::any_completion_handler<void(error_code)> h)
        : job(std::move(j)), handler(std::move(h)) {}

    error_code execute(writer_ctx& w) override {
        if (!job.idempotency_key.empty()) {
            auto& rel = w.release_key;
            rel.bind(1, std::string_view(job.account_id));
            rel.bind(2, std::string_view(job.idempotency_key));
            rel.bind(3, job.created_ms - w.idempotency_window_ms);
            const int rrc = rel.step();
            rel.reset();
            if (rrc != SQLITE_DONE) {
                spdlog::error("store: releasing an expired idempotency key failed: {}",
                              w.db->error_message());
                return store_errc::io;
            }
        }
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
        const int rc = st.step();
        st.reset();
        if (rc != SQLITE_DONE && (rc & 0xff) != SQLITE_CONSTRAINT)
            spdlog::error("store: insert of job {} failed: {}", job.uuid, w.db->error_message());
        return step_error(rc);
    }
    void finish(error_code ec) override { complete(std::move(handler), ec); }
    std::uint64_t jobs() const override { return 1; }

    job_record job;
    asio::any_completion_handler<void(error_code)> handler;
};

struct seed_op final : sqlite_store::write_op {
    explicit seed_op(const seed_data& s) : seed(s) {}

    error_code execute(writer_ctx& w) override {
        try {
            write(*w.db);
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

    void write(sqlite_db& db) {
        const auto now = model::now_ms();
        sqlite_statement account(db.handle(),
                                 "INSERT INTO accounts (id, name, created_ms) VALUES (?1, ?2, ?3)"
                                 " ON CONFLICT (id) DO UPDATE SET name = excluded.name");
        sqlite_statement key(
            db.handle(),
            "INSERT INTO api_keys (key_hash, account_id, prefix, created_ms) VALUES (?1, ?2, ?3, ?4)"
            " ON CONFLICT (key_hash) DO UPDATE SET account_id = excluded.account_id,"
            " revoked_ms = NULL");
        sqlite_statement project(
            db.handle(),
            "INSERT INTO projects (id, account_id, name, type, start_ms, end_ms, mapping_fields)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET account_id = "
            "excluded.account_id,"
            " name = excluded.name, type = excluded.type, start_ms = excluded.start_ms, end_ms = "
            "excluded.end_ms,"
            " mapping_fields = excluded.mapping_fields");
        sqlite_statement prompt(
            db.handle(),
            "INSERT INTO image_prompts (id, account_id, name, prompt) VALUES (?1, ?2, ?3, ?4)"
            " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id,"
            " name = excluded.name, prompt = excluded.prompt");
        auto run = [&](sqlite_statement& st, std::string_view what) {
            const int rc = st.step();
            st.reset();
            if (rc != SQLITE_DONE) throw sqlite_error(std::string(what) + ": " + db.error_message(), rc);
        };
        for (const auto& a : seed.accounts) {
            account.bind(1, std::string_view(a.id));
            account.bind(2, std::string_view(a.name));
            account.bind(3, now);
            run(account, "account " + a.id);
            for (const auto& k : a.keys) {
                const auto hash = model::hash_api_key(k);
                const auto prefix = model::key_prefix(k);
                key.bind(1, std::string_view(hash));
                key.bind(2, std::string_view(a.id));
                key.bind(3, std::string_view(prefix));
                key.bind(4, now);
                run(key, "key of account " + a.id);
            }
        }
        sqlite_statement operator_key(
            db.handle(),
            "INSERT INTO operator_keys (key_hash, prefix, name, created_ms) VALUES (?1, ?2, 'seed', ?3)"
            " ON CONFLICT (key_hash) DO UPDATE SET revoked_ms = NULL");
        for (const auto& k : seed.operator_keys) {
            const auto hash = model::hash_api_key(k);
            const auto prefix = model::key_prefix(k);
            operator_key.bind(1, std::string_view(hash));
            operator_key.bind(2, std::string_view(prefix));
            operator_key.bind(3, now);
            run(operator_key, "operator key");
        }
        for (const auto& p : seed.projects) {
            const auto fields = boost::json::serialize(p.mapping_fields);
            project.bind(1, std::string_view(p.id));
            project.bind(2, std::string_view(p.account_id));
            project.bind(3, std::string_view(p.name));
            project.bind(4, std::string_view(p.type));
            project.bind(5, p.start_ms);
            project.bind(6, p.end_ms);
            project.bind(7, std::string_view(fields));
            run(project, "project " + p.id);
        }
        for (const auto& ip : seed.image_prompts) {
            prompt.bind(1, std::string_view(ip.id));
            prompt.bind(2, std::string_view(ip.account_id));
            prompt.bind(3, std::string_view(ip.name));
            prompt.bind(4, std::string_view(ip.prompt));
            run(prompt, "image prompt " + ip.id);
        }
    }

    const seed_data& seed;
    std::string problem;
    std::promise<void> done;
};

struct find_job_op final : sqlite_store::read_op {
    find_job_op(std::string a, std::string u,
                asio::any_completion_handler<void(error_code, std::optional<job_record>)> h)
        : account_id(std::move(a)), uuid(std::move(u)), handler(std::move(h)) {}

    void run(reader_ctx& r) override {
        auto& st = r.find_job;
        st.bind(1, std::string_view(uuid));
        st.bind(2, std::string_view(account_id));
        std::optional<job_record> found;
        const int rc = st.step();
        if (rc == SQLITE_ROW) found = read_job(st, 0);
        st.reset();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            spdlog::error("store: reading job {} failed: {}", uuid, r.db.error_message());
            complete(std::move(handler), error_code(store_errc::io), std::optional<job_record>{});
            return;
        }
        complete(std::move(handler), error_code{}, std::move(found));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::optional<job_record>{}); }

    std::string account_id, uuid;
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler;
};

struct find_by_key_op final : sqlite_store::read_op {
    find_by_key_op(std::string a, std::string k, std::int64_t s,
                   asio::any_completion_handler<void(error_code, std::optional<job_record>)> h)
        : account_id(std::move(a)), key(std::move(k)), since(s), handler(std::move(h)) {}

    void run(reader_ctx& r) override {
        auto& st = r.find_by_key;
        st.bind(1, std::string_view(account_id));
        st.bind(2, std::string_view(key));
        st.bind(3, since);
        std::optional<job_record> found;
        const int rc = st.step();
        if (rc == SQLITE_ROW) found = read_job(st, 0);
        st.reset();
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            spdlog::error("store: looking up an idempotency key failed: {}", r.db.error_message());
            complete(std::move(handler), error_code(store_errc::io), std::optional<job_record>{});
            return;
        }
        complete(std::move(handler), error_code{}, std::move(found));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::optional<job_record>{}); }

    std::string account_id, key;
    std::int64_t since;
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler;
};

struct mark_published_op final : sqlite_store::write_op {
    mark_published_op(std::vector<std::string> u, asio::any_completion_handler<void(error_code)> h)
        : uuids(std::move(u)), handler(std::move(h)) {}

    error_code execute(writer_ctx& w) override {
        for (const auto& uuid : uuids) {
            w.mark_published.bind(1, std::string_view(uuid));
            const int rc = w.mark_published.step();
            w.mark_published.reset();
            if (rc != SQLITE_DONE) {
                spdlog::error("store: marking {} published failed: {}", uuid, w.db->error_message());
                return store_errc::io;
            }
        }
        return {};
    }
    void finish(error_code ec) override { complete(std::move(handler), ec); }

    std::vector<std::string> uuids;
    asio::any_completion_handler<void(error_code)> handler;
};

struct apply_events_op final : sqlite_store::write_op {
    apply_events_op(std::vector<model::job_event> e, std::atomic<std::uint64_t>& counter,
                    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> h)
        : events(std::move(e)), applied_counter(counter), handler(std::move(h)) {}

    error_code execute(writer_ctx& w) override {
        applied.clear();
        for (auto& e : events) {
            auto& st = w.job_state;
            st.bind(1, std::string_view(e.uuid));
            const int rc = st.step();
            if (rc != SQLITE_ROW) {
                st.reset();
                if (rc == SQLITE_DONE) {
                    spdlog::warn("store: status event for unknown job {} ignored", e.uuid);
                    continue;
                }
                spdlog::error("store: reading job {} failed: {}", e.uuid, w.db->error_message());
                return store_errc::io;
            }
            const auto current =
                model::parse_job_status(st.column_text(0)).value_or(model::job_status::queued);
            applied_event a{e, std::string(st.column_text(1)), std::string(st.column_text(2)),
                            model::parse_job_type(st.column_text(3)).value_or(model::job_type::video)};
            st.reset();
            if (!model::can_advance(current, e.status)) continue;  // late or duplicate: harmless

            auto& up = w.update_status;
            up.bind(1, std::string_view(e.uuid));
            up.bind(2, model::to_string(e.status));
            up.bind(3, e.progress ? std::optional<std::int64_t>(*e.progress) : std::nullopt);
            up.bind(4, e.output);
            up.bind(5, e.error);
            up.bind(6, e.at_ms);
            const int urc = up.step();
            up.reset();
            if (urc != SQLITE_DONE) {
                spdlog::error("store: updating job {} failed: {}", e.uuid, w.db->error_message());
                return store_errc::io;
            }
            applied.push_back(std::move(a));
        }
        return {};
    }
    void finish(error_code ec) override {
        if (!ec)
            applied_counter.fetch_add(applied.size(), std::memory_order_relaxed);
        else
            applied.clear();
        complete(std::move(handler), ec, std::move(applied));
    }

    std::vector<model::job_event> events;
    std::vector<applied_event> applied;
    std::atomic<std::uint64_t>& applied_counter;
    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler;
};

struct list_unpublished_op final : sqlite_store::read_op {
    list_unpublished_op(std::int64_t after, std::size_t n,
                        asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> h)
        : after_seq(after), limit(n), handler(std::move(h)) {}

    void run(reader_ctx& r) override {
        auto& st = r.list_unpublished;
        st.bind(1, after_seq);
        st.bind(2, static_cast<std::int64_t>(limit));
        std::vector<outbox_entry> out;
        int rc;
        while ((rc = st.step()) == SQLITE_ROW) out.push_back({st.column_int(0), read_job(st, 1)});
        st.reset();
        if (rc != SQLITE_DONE) {
            spdlog::error("store: reading the outbox failed: {}", r.db.error_message());
            complete(std::move(handler), error_code(store_errc::io), std::vector<outbox_entry>{});
            return;
        }
        complete(std::move(handler), error_code{}, std::move(out));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::vector<outbox_entry>{}); }

    std::int64_t after_seq;
    std::size_t limit;
    asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler;
};

struct outbox_stats_op final : sqlite_store::read_op {
    explicit outbox_stats_op(asio::any_completion_handler<void(error_code, outbox_stats)> h)
        : handler(std::move(h)) {}

    void run(reader_ctx& r) override {
        try {
            sqlite_statement st(r.db.handle(),
                                "SELECT count(*), min(created_ms) FROM jobs WHERE published = 0");
            outbox_stats stats;
            if (st.step() == SQLITE_ROW) {
                stats.unpublished = static_cast<std::uint64_t>(st.column_int(0));
                stats.oldest_created_ms = st.column_optional_int(1);
            }
            complete(std::move(handler), error_code{}, stats);
        } catch (const std::exception& e) {
            spdlog::error("store: reading outbox stats failed: {}", e.what());
            complete(std::move(handler), error_code(store_errc::io), outbox_stats{});
        }
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, outbox_stats{}); }

    asio::any_completion_handler<void(error_code, outbox_stats)> handler;
};

struct count_jobs_op final : sqlite_store::read_op {
    explicit count_jobs_op(asio::any_completion_handler<void(error_code, std::vector<job_count>)> h)
        : handler(std::move(h)) {}

    void run(reader_ctx& r) override {
        try {
            sqlite_statement st(r.db.handle(), count_jobs_sql);
            std::vector<job_count> out;
            int rc;
            while ((rc = st.step()) == SQLITE_ROW) {
                auto type = model::parse_job_type(st.column_text(0));
                auto status = model::parse_job_status(st.column_text(1));
                if (type && status)
                    out.push_back({*type, *status, static_cast<std::uint64_t>(st.column_int(2))});
            }
            if (rc != SQLITE_DONE) throw std::runtime_error(r.db.error_message());
            complete(std::move(handler), error_code{}, std::move(out));
        } catch (const std::exception& e) {
            spdlog::error("store: counting jobs failed: {}", e.what());
            complete(std::move(handler), error_code(store_errc::io), std::vector<job_count>{});
        }
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::vector<job_count>{}); }

    asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler;
};

struct recent_jobs_op final : sqlite_store::read_op {
    recent_jobs_op(std::size_t n, asio::any_completion_handler<void(error_code, std::vector<job_record>)> h)
        : limit(n), handler(std::move(h)) {}

    void run(reader_ctx& r) override {
        try {
            sqlite_statement st(r.db.handle(), recent_jobs_sql);
            st.bind(1, static_cast<std::int64_t>(limit));
            std::vector<job_record> out;
            int rc;
            while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_job(st, 0));
            if (rc != SQLITE_DONE) throw std::runtime_error(r.db.error_message());
            complete(std::move(handler), error_code{}, std::move(out));
        } catch (const std::exception& e) {
            spdlog::error("store: listing recent jobs failed: {}", e.what());
            complete(std::move(handler), error_code(store_errc::io), std::vector<job_record>{});
        }
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::vector<job_record>{}); }

    std::size_t limit;
    asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler;
};

struct load_catalog_op final : sqlite_store::read_op {
    explicit load_catalog_op(asio::any_completion_handler<void(error_code, catalog_ptr)> h)
        : handler(std::move(h)) {}

    void run(reader_ctx& r) override {
        try {
            complete(std::move(handler), error_code{}, catalog_ptr(read(r.db)));
        } catch (const std::exception& e) {
            spdlog::error("store: loading the catalog failed: {}", e.what());
            complete(std::move(handler), error_code(store_errc::io), catalog_ptr{});
        }
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, catalog_ptr{}); }

    static std::shared_ptr<model::catalog> read(sqlite_db& db) {
        auto cat = std::make_shared<model::catalog>();
        // One read transaction, so the three tables are read from one snapshot.
        db.exec("BEGIN");
        try {
            sqlite_statement keys(db.handle(),
                                  "SELECT key_hash, account_id FROM api_keys WHERE revoked_ms IS NULL");
            while (keys.step() == SQLITE_ROW)
                cat->account_by_key_hash.emplace(keys.column_text(0), keys.column_text(1));
            sqlite_statement operator_keys(db.handle(),
                                           "SELECT key_hash FROM operator_keys WHERE revoked_ms IS NULL");
            while (operator_keys.step() == SQLITE_ROW)
                cat->operator_key_hashes.emplace(operator_keys.column_text(0));
            sqlite_statement projects(
                db.handle(),
                "SELECT id, account_id, name, type, start_ms, end_ms, mapping_fields FROM projects");
            while (projects.step() == SQLITE_ROW) {
                model::project p;
                p.id = projects.column_text(0);
                p.account_id = projects.column_text(1);
                p.name = projects.column_text(2);
                p.type = projects.column_text(3);
                p.start_ms = projects.column_optional_int(4);
                p.end_ms = projects.column_optional_int(5);
                boost::system::error_code ec;
                auto fields = boost::json::parse(projects.column_text(6), ec);
                if (!ec && fields.is_object()) p.mapping_fields = std::move(fields.get_object());
                cat->projects.emplace(p.id, std::move(p));
            }
            sqlite_statement prompts(db.handle(), "SELECT id, account_id, name, prompt FROM image_prompts");
            while (prompts.step() == SQLITE_ROW) {
                model::image_prompt ip{
                    std::string(prompts.column_text(0)), std::string(prompts.column_text(1)),
                    std::string(prompts.column_text(2)), std::string(prompts.column_text(3))};
                cat->image_prompts.emplace(ip.id, std::move(ip));
            }
        } catch (...) {
            db.exec("COMMIT");
            throw;
        }
        db.exec("COMMIT");
        return cat;
    }

    asio::any_completion_handler<void(error_code, catalog_ptr)> handler;
};

}  // namespace

sqlite_store::sqlite_store(sqlite_options options)
    : options_(std::move(options)),
      queues_(std::make_unique<queues>(options_.write_queue_max, options_.read_queue_max)) {
    if (options_.path.has_parent_path()) std::filesystem::create_directories(options_.path.parent_path());
    auto db = std::make_unique<sqlite_db>(options_.path, sqlite_db::mode::read_write);
    db->exec("PRAGMA journal_mode = WAL");
    db->exec(options_.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    migrate_sqlite(*db);
    queues_->writer = std::make_unique<writer_ctx>(std::move(db));
    queues_->writer->idempotency_window_ms = options_.idempotency_window.count();
    writer_ = std::thread([this] { writer_loop(); });
    const std::size_t readers = std::max<std::size_t>(1, options_.readers);
    for (std::size_t i = 0; i < readers; ++i) readers_.emplace_back([this] { reader_loop(); });
}

sqlite_store::~sqlite_store() {
    queues_->write.close();
    queues_->read.close();
    writer_.join();
    for (auto& t : readers_) t.join();
}

void sqlite_store::writer_loop() {
    writer_ctx& w = *queues_->writer;
    for (;;) {
        auto batch = queues_->write.pop_batch(options_.batch_max, options_.batch_wait);
        if (batch.empty()) return;  // closed and drained
        std::vector<error_code> outcome(batch.size());
        error_code txn_error;
        int rc = w.begin.step();
        w.begin.reset();
        if (rc != SQLITE_DONE) {
            spdlog::error("store: BEGIN failed: {}", w.db->error_message());
            txn_error = store_errc::io;
        } else {
            for (std::size_t i = 0; i < batch.size(); ++i) outcome[i] = batch[i]->execute(w);
            rc = w.commit.step();
            w.commit.reset();
            if (rc != SQLITE_DONE) {
                spdlog::error("store: COMMIT failed: {}", w.db->error_message());
                txn_error = store_errc::io;
                w.rollback.step();
                w.rollback.reset();
            }
        }
        std::uint64_t jobs = 0;
        if (!txn_error) {
            for (std::size_t i = 0; i < batch.size(); ++i)
                if (!outcome[i]) jobs += batch[i]->jobs();
            transactions_.fetch_add(1, std::memory_order_relaxed);
            jobs_committed_.fetch_add(jobs, std::memory_order_relaxed);
        }
        for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->finish(txn_error ? txn_error : outcome[i]);
    }
}

void sqlite_store::reader_loop() {
    std::unique_ptr<reader_ctx> ctx;
    try {
        ctx = std::make_unique<reader_ctx>(options_.path);
    } catch (const std::exception& e) {
        spdlog::error("store: reader cannot open the database: {}", e.what());
    }
    for (;;) {
        auto batch = queues_->read.pop_batch(1, std::chrono::microseconds{0});
        if (batch.empty()) return;
        if (ctx)
            batch.front()->run(*ctx);
        else
            batch.front()->fail(store_errc::io);
    }
}

namespace {

template <class Op>
error_code push_error(typename task_queue<std::unique_ptr<Op>>::push_result r) {
    using result = typename task_queue<std::unique_ptr<Op>>::push_result;
    return r == result::full ? error_code(store_errc::busy) : error_code(store_errc::closed);
}

}  // namespace

void sqlite_store::submit_write(std::unique_ptr<write_op> op) {
    const auto r = queues_->write.push(std::move(op));
    if (r != task_queue<std::unique_ptr<write_op>>::push_result::ok) op->finish(push_error<write_op>(r));
}

void sqlite_store::create_job(job_record job, asio::any_completion_handler<void(error_code)> handler) {
    submit_write(std::make_unique<insert_job_op>(std::move(job), std::move(handler)));
}

void sqlite_store::mark_published(std::vector<std::string> uuids,
                                  asio::any_completion_handler<void(error_code)> handler) {
    submit_write(std::make_unique<mark_published_op>(std::move(uuids), std::move(handler)));
}

void sqlite_store::apply_events(
    std::vector<model::job_event> events,
    asio::any_completion_handler<void(error_code, std::vector<applied_event>)> handler) {
    submit_write(std::make_unique<apply_events_op>(std::move(events), events_applied_, std::move(handler)));
}

void sqlite_store::claim_unpublished(
    std::int64_t after_seq, std::size_t limit,
    asio::any_completion_handler<void(error_code, std::vector<outbox_entry>)> handler) {
    submit_read(std::make_unique<list_unpublished_op>(after_seq, limit, std::move(handler)));
}

void sqlite_store::read_outbox_stats(asio::any_completion_handler<void(error_code, outbox_stats)> handler) {
    submit_read(std::make_unique<outbox_stats_op>(std::move(handler)));
}

void sqlite_store::count_jobs(
    asio::any_completion_handler<void(error_code, std::vector<job_count>)> handler) {
    submit_read(std::make_unique<count_jobs_op>(std::move(handler)));
}

void sqlite_store::list_recent_jobs(
    std::size_t limit, asio::any_completion_handler<void(error_code, std::vector<job_record>)> handler) {
    submit_read(std::make_unique<recent_jobs_op>(limit, std::move(handler)));
}

void sqlite_store::submit_read(std::unique_ptr<read_op> op) {
    const auto r = queues_->read.push(std::move(op));
    if (r != task_queue<std::unique_ptr<read_op>>::push_result::ok) op->fail(push_error<read_op>(r));
}

void sqlite_store::find_job(
    std::string account_id, std::string uuid,
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    submit_read(std::make_unique<find_job_op>(std::move(account_id), std::move(uuid), std::move(handler)));
}

void sqlite_store::find_by_idempotency_key(
    std::string account_id, std::string key, std::int64_t since_ms,
    asio::any_completion_handler<void(error_code, std::optional<job_record>)> handler) {
    submit_read(std::make_unique<find_by_key_op>(std::move(account_id), std::move(key), since_ms,
                                                 std::move(handler)));
}

void sqlite_store::load_catalog(asio::any_completion_handler<void(error_code, catalog_ptr)> handler) {
    submit_read(std::make_unique<load_catalog_op>(std::move(handler)));
}

void sqlite_store::apply_seed(const seed_data& seed) {
    auto op = std::make_unique<seed_op>(seed);
    auto done = op->done.get_future();
    std::unique_ptr<write_op> base = std::move(op);
    const auto r = queues_->write.push(std::move(base));
    if (r != task_queue<std::unique_ptr<write_op>>::push_result::ok)
        throw std::runtime_error("seed could not be queued: " + push_error<write_op>(r).message());
    done.get();  // rethrows the seed's failure
}

store_stats sqlite_store::stats() const {
    return {transactions_.load(std::memory_order_relaxed), jobs_committed_.load(std::memory_order_relaxed),
            queues_->write.size(), events_applied_.load(std::memory_order_relaxed)};
}

}  // namespace jobsd::store

// The SQLite readers' statements and operations: each runs on one reader thread's read-only
// connection (WAL: it never blocks the writer) and completes with its result or store_errc::io.
#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>

#include <stdexcept>
#include <type_traits>
#include <variant>

#include "store/completion.hpp"
#include "store/sqlite_job_row.hpp"
#include "store/sqlite_nowait_vfs.hpp"
#include "store/sqlite_ops.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace {

std::string select_jobs(std::string_view leading, std::string_view rest) {
    return "SELECT " + std::string(leading) + std::string(sqlite_job_columns) + " FROM jobs " +
           std::string(rest);
}

// A lookup of at most one job through an index (find_job, find_by_idempotency_key): run by a
// reader, or first tried on the asking thread (read_without_waiting). `Derived::bound(r)` is its
// statement with the values bound; `Derived::what` and `subject()` name it in the log.
template <class Derived>
struct find_one_job_op : sqlite_read_op {
    explicit find_one_job_op(sqlite_handler<std::optional<job_record>> h) : handler(std::move(h)) {}

    void run(sqlite_reader_ctx& r) override {
        read(r);
        complete_read();
    }
    bool read_without_waiting(sqlite_reader_ctx& r) override {
        nowait_vfs::take_declined();
        read(r);
        const int primary = rc & 0xff;
        if (nowait_vfs::take_declined() || primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
            found.reset();
            return false;
        }
        return true;
    }
    void complete_read() override {
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            spdlog::error("store: {} {} failed: {}", Derived::what, static_cast<Derived*>(this)->subject(),
                          failure);
            complete(std::move(handler), error_code(store_errc::io), std::optional<job_record>{});
            return;
        }
        complete(std::move(handler), error_code{}, std::move(found));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::optional<job_record>{}); }
    bool point_read() const override { return true; }
    boost::asio::any_completion_executor executor() const override {
        return boost::asio::get_associated_executor(handler);
    }

  private:
    void read(sqlite_reader_ctx& r) {
        auto& st = static_cast<Derived*>(this)->bound(r);
        rc = st.step();
        if (rc == SQLITE_ROW) found = read_sqlite_job(st, 0);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) failure = r.db.error_message();
        st.reset();
    }

    sqlite_handler<std::optional<job_record>> handler;
    int rc = SQLITE_DONE;
    std::optional<job_record> found;
    std::string failure;  // SQLite's message when the step failed
};

struct find_job_op final : find_one_job_op<find_job_op> {
    static constexpr std::string_view what = "reading job";
    find_job_op(std::string a, std::string u, sqlite_handler<std::optional<job_record>> h)
        : find_one_job_op(std::move(h)), account_id(std::move(a)), uuid(std::move(u)) {}

    sqlite_statement& bound(sqlite_reader_ctx& r) {
        r.find_job.bind(1, std::string_view(uuid));
        r.find_job.bind(2, std::string_view(account_id));
        return r.find_job;
    }
    const std::string& subject() const { return uuid; }

    std::string account_id, uuid;
};

struct find_by_key_op final : find_one_job_op<find_by_key_op> {
    static constexpr std::string_view what = "looking up the idempotency key of account";
    find_by_key_op(std::string a, std::string k, std::int64_t s, sqlite_handler<std::optional<job_record>> h)
        : find_one_job_op(std::move(h)), account_id(std::move(a)), key(std::move(k)), since(s) {}

    sqlite_statement& bound(sqlite_reader_ctx& r) {
        r.find_by_key.bind(1, std::string_view(account_id));
        r.find_by_key.bind(2, std::string_view(key));
        r.find_by_key.bind(3, since);
        return r.find_by_key;
    }
    const std::string& subject() const { return account_id; }

    std::string account_id, key;
    std::int64_t since;
};

struct list_unpublished_op final : sqlite_read_op {
    list_unpublished_op(std::int64_t after, std::size_t n, sqlite_handler<std::vector<outbox_entry>> h)
        : after_seq(after), limit(n), handler(std::move(h)) {}

    void run(sqlite_reader_ctx& r) override {
        auto& st = r.list_unpublished;
        st.bind(1, after_seq);
        st.bind(2, static_cast<std::int64_t>(limit));
        std::vector<outbox_entry> out;
        int rc;
        while ((rc = st.step()) == SQLITE_ROW) out.push_back({st.column_int(0), read_sqlite_job(st, 1)});
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
    sqlite_handler<std::vector<outbox_entry>> handler;
};

// Reads rows of jobs from `st` (bound by the caller) until done; io when a step failed.
error_code read_jobs(sqlite_statement& st, sqlite_db& db, std::string_view what,
                     std::vector<job_record>& out) {
    int rc;
    while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_sqlite_job(st, 0));
    st.reset();
    if (rc == SQLITE_DONE) return {};
    spdlog::error("store: {} failed: {}", what, db.error_message());
    out.clear();
    return store_errc::io;
}

// One statement per query shape (which filters, how many statuses), prepared once per reader.
struct list_jobs_op final : sqlite_read_op {
    list_jobs_op(job_query q, sqlite_handler<std::vector<job_record>> h)
        : query(std::move(q)), handler(std::move(h)) {}

    void run(sqlite_reader_ctx& r) override {
        auto q = list_jobs_sql(query, sqlite_job_columns, false);
        auto& slot = r.list_jobs[q.sql];
        std::vector<job_record> out;
        error_code ec;
        try {
            if (!slot) slot = std::make_unique<sqlite_statement>(r.db.handle(), q.sql);
        } catch (const std::exception& e) {
            spdlog::error("store: preparing a job list failed: {}", e.what());
            r.list_jobs.erase(q.sql);
            complete(std::move(handler), error_code(store_errc::io), std::move(out));
            return;
        }
        for (std::size_t i = 0; i < q.params.size(); ++i)
            std::visit(
                [&](const auto& v) {
                    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>)
                        slot->bind(static_cast<int>(i + 1), std::string_view(v));
                    else
                        slot->bind(static_cast<int>(i + 1), v);
                },
                q.params[i]);
        ec = read_jobs(*slot, r.db, "listing jobs", out);
        complete(std::move(handler), ec, std::move(out));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::vector<job_record>{}); }

    job_query query;
    sqlite_handler<std::vector<job_record>> handler;
};

struct list_batch_op final : sqlite_read_op {
    list_batch_op(std::string a, std::string b, sqlite_handler<std::vector<job_record>> h)
        : account_id(std::move(a)), batch_id(std::move(b)), handler(std::move(h)) {}

    void run(sqlite_reader_ctx& r) override {
        r.list_batch.bind(1, std::string_view(batch_id));
        r.list_batch.bind(2, std::string_view(account_id));
        std::vector<job_record> out;
        const auto ec = read_jobs(r.list_batch, r.db, "reading batch " + batch_id, out);
        complete(std::move(handler), ec, std::move(out));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, std::vector<job_record>{}); }

    std::string account_id, batch_id;
    sqlite_handler<std::vector<job_record>> handler;
};

// The total counts the outbox's own b-tree (its rows are bare seqs, hundreds to a page) and reads
// one job, the first in commit order: 0.5 ms at 336 000 rows here. The count per type reads every
// unpublished job's row, 157 ms, which a gate counting every second would pay as long as the
// broker is away.
struct outbox_stats_op final : occasional_read<outbox_stats_op, outbox_stats> {
    outbox_stats_op(outbox_detail d, sqlite_handler<outbox_stats> h)
        : occasional_read(std::move(h)), detail(d) {}
    static constexpr const char* what = "reading outbox stats";

    outbox_stats read(sqlite_db& db) {
        outbox_stats stats;
        if (detail == outbox_detail::total) {
            sqlite_statement st(db.handle(),
                                "SELECT (SELECT count(*) FROM outbox),"
                                " (SELECT created_ms FROM jobs WHERE seq = (SELECT min(seq) FROM outbox))");
            if (st.step() != SQLITE_ROW) throw std::runtime_error(db.error_message());
            stats.unpublished = static_cast<std::uint64_t>(st.column_int(0));
            stats.oldest_created_ms = st.column_optional_int(1);
            return stats;
        }
        sqlite_statement st(
            db.handle(),
            "SELECT j.job_type, count(*), min(j.created_ms) FROM outbox o JOIN jobs j ON j.seq = o.seq"
            " GROUP BY j.job_type");
        while (st.step() == SQLITE_ROW)
            stats.add(st.column_text(0), static_cast<std::uint64_t>(st.column_int(1)),
                      st.column_optional_int(2));
        return stats;
    }

    outbox_detail detail;
};

struct count_jobs_op final : occasional_read<count_jobs_op, std::vector<job_count>> {
    using occasional_read::occasional_read;
    static constexpr const char* what = "counting jobs";

    std::vector<job_count> read(sqlite_db& db) {
        sqlite_statement st(db.handle(),
                            "SELECT job_type, job_status, count(*) FROM jobs GROUP BY job_type, job_status");
        std::vector<job_count> out;
        int rc;
        while ((rc = st.step()) == SQLITE_ROW) {
            auto type = model::parse_job_type(st.column_text(0));
            auto status = model::parse_job_status(st.column_text(1));
            if (type && status) out.push_back({*type, *status, static_cast<std::uint64_t>(st.column_int(2))});
        }
        if (rc != SQLITE_DONE) throw std::runtime_error(db.error_message());
        return out;
    }
};

struct recent_jobs_op final : occasional_read<recent_jobs_op, std::vector<job_record>> {
    recent_jobs_op(std::size_t n, sqlite_handler<std::vector<job_record>> h)
        : occasional_read(std::move(h)), limit(n) {}
    static constexpr const char* what = "listing recent jobs";

    std::vector<job_record> read(sqlite_db& db) {
        sqlite_statement st(db.handle(), select_jobs("", "ORDER BY seq DESC LIMIT ?1"));
        st.bind(1, static_cast<std::int64_t>(limit));
        std::vector<job_record> out;
        int rc;
        while ((rc = st.step()) == SQLITE_ROW) out.push_back(read_sqlite_job(st, 0));
        if (rc != SQLITE_DONE) throw std::runtime_error(db.error_message());
        return out;
    }

    std::size_t limit;
};

struct load_catalog_op final : occasional_read<load_catalog_op, catalog_ptr> {
    using occasional_read::occasional_read;
    static constexpr const char* what = "loading the catalog";

    // One read transaction, so the tables are read from one snapshot.
    catalog_ptr read(sqlite_db& db) {
        auto cat = std::make_shared<model::catalog>();
        db.exec("BEGIN");
        try {
            read_keys(db, *cat);
            read_projects(db, *cat);
            read_image_prompts(db, *cat);
        } catch (...) {
            db.exec("COMMIT");
            throw;
        }
        db.exec("COMMIT");
        return cat;
    }

    static void read_keys(sqlite_db& db, model::catalog& cat) {
        sqlite_statement keys(db.handle(),
                              "SELECT key_hash, account_id FROM api_keys WHERE revoked_ms IS NULL");
        while (keys.step() == SQLITE_ROW)
            cat.account_by_key_hash.emplace(keys.column_text(0), keys.column_text(1));
        sqlite_statement operator_keys(db.handle(),
                                       "SELECT key_hash FROM operator_keys WHERE revoked_ms IS NULL");
        while (operator_keys.step() == SQLITE_ROW)
            cat.operator_key_hashes.emplace(operator_keys.column_text(0));
    }

    static void read_projects(sqlite_db& db, model::catalog& cat) {
        sqlite_statement projects(db.handle(),
                                  "SELECT id, account_id, name, type, start_ms, end_ms, mapping_fields, "
                                  "strict_values FROM projects");
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
            p.strict_values = projects.column_int(7) != 0;
            cat.projects.emplace(p.id, std::move(p));
        }
    }

    static void read_image_prompts(sqlite_db& db, model::catalog& cat) {
        sqlite_statement prompts(db.handle(), "SELECT id, account_id, name, prompt FROM image_prompts");
        while (prompts.step() == SQLITE_ROW) {
            model::image_prompt ip{std::string(prompts.column_text(0)), std::string(prompts.column_text(1)),
                                   std::string(prompts.column_text(2)), std::string(prompts.column_text(3))};
            cat.image_prompts.emplace(ip.id, std::move(ip));
        }
    }
};

}  // namespace

sqlite_reader_ctx::sqlite_reader_ctx(const std::filesystem::path& path, const char* vfs)
    : db(path, sqlite_db::mode::read_only, vfs),
      find_job(db.handle(), select_jobs("", "WHERE uuid = ?1 AND account_id = ?2")),
      find_by_key(db.handle(),
                  select_jobs("", "WHERE account_id = ?1 AND idempotency_key = ?2 AND created_ms >= ?3")),
      list_unpublished(
          db.handle(),
          select_jobs("seq, ",
                      "WHERE seq IN (SELECT seq FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2) "
                      "ORDER BY seq")),
      list_batch(db.handle(), select_jobs("", "WHERE batch_id = ?1 AND account_id = ?2 ORDER BY seq")) {}

namespace sqlite_ops {

std::unique_ptr<sqlite_read_op> make_find_job_op(std::string account_id, std::string uuid,
                                                 sqlite_handler<std::optional<job_record>> handler) {
    return std::make_unique<find_job_op>(std::move(account_id), std::move(uuid), std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_find_by_key_op(std::string account_id, std::string key,
                                                    std::int64_t since_ms,
                                                    sqlite_handler<std::optional<job_record>> handler) {
    return std::make_unique<find_by_key_op>(std::move(account_id), std::move(key), since_ms,
                                            std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_list_unpublished_op(std::int64_t after_seq, std::size_t limit,
                                                         sqlite_handler<std::vector<outbox_entry>> handler) {
    return std::make_unique<list_unpublished_op>(after_seq, limit, std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_list_jobs_op(job_query query,
                                                  sqlite_handler<std::vector<job_record>> handler) {
    return std::make_unique<list_jobs_op>(std::move(query), std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_list_batch_op(std::string account_id, std::string batch_id,
                                                   sqlite_handler<std::vector<job_record>> handler) {
    return std::make_unique<list_batch_op>(std::move(account_id), std::move(batch_id), std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_outbox_stats_op(outbox_detail detail,
                                                     sqlite_handler<outbox_stats> handler) {
    return std::make_unique<outbox_stats_op>(detail, std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_count_jobs_op(sqlite_handler<std::vector<job_count>> handler) {
    return std::make_unique<count_jobs_op>(std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_recent_jobs_op(std::size_t limit,
                                                    sqlite_handler<std::vector<job_record>> handler) {
    return std::make_unique<recent_jobs_op>(limit, std::move(handler));
}

std::unique_ptr<sqlite_read_op> make_load_catalog_op(sqlite_handler<catalog_ptr> handler) {
    return std::make_unique<load_catalog_op>(std::move(handler));
}

}  // namespace sqlite_ops

}  // namespace jobsd::store

// The PostgreSQL adapter's reads: each runs alone on an idle connection, as one pipeline, and
// turns its results into the value the caller waits for (nothing on failure).
#include <boost/json/parse.hpp>

#include <algorithm>
#include <type_traits>
#include <variant>

#include "store/completion.hpp"
#include "store/pg_job_row.hpp"
#include "store/pg_ops.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace {

// A read of one prepared statement whose value `Derived::read(reply)` builds from its result.
template <class Derived, class Value>
struct single_read : pg_op {
    single_read(std::string name, std::vector<std::string> args, pg_handler<Value> h)
        : statement(std::move(name)), params(std::move(args)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.push_back({statement, {params.begin(), params.end()}});
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        Value value{};
        if (!ec && !results.empty()) value = Derived::read(results[0]);
        complete(std::move(handler), ec, std::move(value));
    }
    bool is_write() const override { return false; }

    std::string statement;
    std::vector<std::string> params;
    pg_handler<Value> handler;
};

struct find_job_op final : single_read<find_job_op, std::optional<job_record>> {
    using single_read::single_read;
    static std::optional<job_record> read(const pg_reply& r) {
        if (r.rows() == 0) return std::nullopt;
        return read_pg_job(r, 0, 0);
    }
};

struct jobs_read final : single_read<jobs_read, std::vector<job_record>> {
    using single_read::single_read;
    static std::vector<job_record> read(const pg_reply& r) {
        std::vector<job_record> jobs;
        for (int i = 0; i < r.rows(); ++i) jobs.push_back(read_pg_job(r, i, 0));
        return jobs;
    }
};

// The SQL differs with the filters given: sent as text with parameters rather than prepared.
struct list_jobs_op final : pg_op {
    list_jobs_op(job_query q, pg_handler<std::vector<job_record>> h)
        : query(std::move(q)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        auto q = list_jobs_sql(query, pg_job_columns, true);
        pg_statement st{std::move(q.sql), {}, false};
        for (auto& p : q.params)
            st.params.emplace_back(std::visit(
                [](auto& v) -> std::string {
                    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>)
                        return std::move(v);
                    else
                        return pg_number(v);
                },
                p));
        out.push_back(std::move(st));
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::vector<job_record> jobs;
        if (!ec && !results.empty()) jobs = jobs_read::read(results[0]);
        complete(std::move(handler), ec, std::move(jobs));
    }
    bool is_write() const override { return false; }

    job_query query;
    pg_handler<std::vector<job_record>> handler;
};

struct claim_op final : single_read<claim_op, std::vector<outbox_entry>> {
    using single_read::single_read;
    static std::vector<outbox_entry> read(const pg_reply& r) {
        std::vector<outbox_entry> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), read_pg_job(r, i, 1)});
        // RETURNING has no order: the relay pages by seq.
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
        return out;
    }
};

struct outbox_stats_op final : single_read<outbox_stats_op, outbox_stats> {
    using single_read::single_read;
    static outbox_stats read(const pg_reply& r) {
        outbox_stats stats;
        for (int i = 0; i < r.rows(); ++i)
            stats.add(r.text(i, 0), static_cast<std::uint64_t>(r.int64(i, 1)), r.optional_int64(i, 2));
        return stats;
    }
};

struct count_jobs_op final : single_read<count_jobs_op, std::vector<job_count>> {
    using single_read::single_read;
    static std::vector<job_count> read(const pg_reply& r) {
        std::vector<job_count> counts;
        for (int i = 0; i < r.rows(); ++i) {
            const auto type = model::parse_job_type(r.text(i, 0));
            const auto status = model::parse_job_status(r.text(i, 1));
            if (type && status) counts.push_back({*type, *status, static_cast<std::uint64_t>(r.int64(i, 2))});
        }
        return counts;
    }
};

struct recent_jobs_op final : single_read<recent_jobs_op, std::vector<job_record>> {
    using single_read::single_read;
    static std::vector<job_record> read(const pg_reply& r) {
        std::vector<job_record> jobs;
        for (int i = 0; i < r.rows(); ++i) jobs.push_back(read_pg_job(r, i, 0));
        return jobs;
    }
};

struct load_catalog_op final : pg_op {
    explicit load_catalog_op(pg_handler<catalog_ptr> h) : handler(std::move(h)) {}

    // One snapshot for all four tables.
    void add(std::vector<pg_statement>& out) const override {
        out.push_back(pg_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
        out.push_back(pg_sql("SELECT key_hash, account_id FROM api_keys WHERE revoked_ms IS NULL"));
        out.push_back(pg_sql("SELECT key_hash FROM operator_keys WHERE revoked_ms IS NULL"));
        out.push_back(
            pg_sql("SELECT id, account_id, name, type, start_ms, end_ms, mapping_fields, strict_values FROM "
                   "projects"));
        out.push_back(pg_sql("SELECT id, account_id, name, prompt FROM image_prompts"));
        out.push_back(pg_sql("COMMIT"));
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
        read_projects(results[3], *cat);
        const auto& prompts = results[4];
        for (int i = 0; i < prompts.rows(); ++i) {
            model::image_prompt ip{std::string(prompts.text(i, 0)), std::string(prompts.text(i, 1)),
                                   std::string(prompts.text(i, 2)), std::string(prompts.text(i, 3))};
            cat->image_prompts.emplace(ip.id, std::move(ip));
        }
        complete(std::move(handler), error_code{}, catalog_ptr(std::move(cat)));
    }
    bool is_write() const override { return false; }

    static void read_projects(const pg_reply& projects, model::catalog& cat) {
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
            p.strict_values = projects.text(i, 7) == "t";  // a boolean in text format
            cat.projects.emplace(p.id, std::move(p));
        }
    }

    pg_handler<catalog_ptr> handler;
};

}  // namespace

namespace pg_ops {

std::unique_ptr<pg_op> make_find_job_op(std::string account_id, std::string uuid,
                                        pg_handler<std::optional<job_record>> handler) {
    return std::make_unique<find_job_op>(
        "find_job", std::vector<std::string>{std::move(uuid), std::move(account_id)}, std::move(handler));
}

std::unique_ptr<pg_op> make_find_by_key_op(std::string account_id, std::string key, std::int64_t since_ms,
                                           pg_handler<std::optional<job_record>> handler) {
    return std::make_unique<find_job_op>(
        "find_by_key", std::vector<std::string>{std::move(account_id), std::move(key), pg_number(since_ms)},
        std::move(handler));
}

std::unique_ptr<pg_op> make_claim_op(std::string instance, std::chrono::milliseconds claim_lease,
                                     std::int64_t after_seq, std::size_t limit,
                                     pg_handler<std::vector<outbox_entry>> handler) {
    return std::make_unique<claim_op>(
        "claim",
        std::vector<std::string>{std::move(instance),
                                 pg_number(static_cast<std::int64_t>(claim_lease.count())),
                                 pg_number(after_seq), pg_number(static_cast<std::int64_t>(limit))},
        std::move(handler));
}

std::unique_ptr<pg_op> make_list_jobs_op(job_query query, pg_handler<std::vector<job_record>> handler) {
    return std::make_unique<list_jobs_op>(std::move(query), std::move(handler));
}

std::unique_ptr<pg_op> make_list_batch_op(std::string account_id, std::string batch_id,
                                          pg_handler<std::vector<job_record>> handler) {
    return std::make_unique<jobs_read>("list_batch",
                                       std::vector<std::string>{std::move(batch_id), std::move(account_id)},
                                       std::move(handler));
}

std::unique_ptr<pg_op> make_outbox_stats_op(pg_handler<outbox_stats> handler) {
    return std::make_unique<outbox_stats_op>("outbox_stats", std::vector<std::string>{}, std::move(handler));
}

std::unique_ptr<pg_op> make_count_jobs_op(pg_handler<std::vector<job_count>> handler) {
    return std::make_unique<count_jobs_op>("count_jobs", std::vector<std::string>{}, std::move(handler));
}

std::unique_ptr<pg_op> make_recent_jobs_op(std::size_t limit, pg_handler<std::vector<job_record>> handler) {
    return std::make_unique<recent_jobs_op>(
        "recent_jobs", std::vector<std::string>{pg_number(static_cast<std::int64_t>(limit))},
        std::move(handler));
}

std::unique_ptr<pg_op> make_load_catalog_op(pg_handler<catalog_ptr> handler) {
    return std::make_unique<load_catalog_op>(std::move(handler));
}

}  // namespace pg_ops

}  // namespace jobsd::store

// Parameters are numbered as they are added, so the text and the values cannot drift apart.
#include "store/job_query.hpp"

#include "store/sqlite_session_sql.hpp"

namespace jobsd::store {

namespace {

class builder {
  public:
    explicit builder(bool postgres) : postgres_(postgres) {}

    // The placeholder of a new parameter holding `v`.
    template <class V>
    std::string param(V v) {
        out.params.emplace_back(std::move(v));
        return (postgres_ ? "$" : "?") + std::to_string(out.params.size());
    }

    job_query_sql out;

  private:
    bool postgres_;
};

// The query's conditions, each with its placeholder: the order key's bounds (account, session,
// time, position), whose column names a caller may qualify, and the filters checked on each row.
struct conditions {
    std::string account, session, after_ms, before_ms, position_ms, position_uuid;
    std::vector<std::string> filters;  // on jobs' own columns: type, source, status
    std::string limit;

    // " WHERE a AND b …", the bounds' columns prefixed with `table` ("" or "s.").
    std::string where(const job_query& q, std::string_view table, bool with_filters) const {
        std::string sql;
        const auto add = [&](const std::string& c) {
            sql += sql.empty() ? " WHERE " : " AND ";
            sql += c;
        };
        const std::string t(table);
        add(t + "account_id = " + account);
        if (q.session_id) add(t + "session_id = " + session);
        if (q.created_after) add(t + "created_ms > " + after_ms);
        if (q.created_before) add(t + "created_ms < " + before_ms);
        // A row value comparison is one range bound on the index (both SQLite and PostgreSQL).
        if (q.after)
            add("(" + t + "created_ms, " + t + "uuid) < (" + position_ms + ", " + position_uuid + ")");
        if (with_filters)
            for (const auto& f : filters) add(f);
        return sql;
    }
};

conditions bind_conditions(const job_query& q, builder& b) {
    conditions c;
    c.account = b.param(q.account_id);
    if (q.session_id) c.session = b.param(*q.session_id);
    if (q.created_after) c.after_ms = b.param(*q.created_after);
    if (q.created_before) c.before_ms = b.param(*q.created_before);
    if (q.after) {
        c.position_ms = b.param(q.after->created_ms);
        c.position_uuid = b.param(q.after->uuid);
    }
    if (q.type) c.filters.push_back("job_type = " + b.param(std::string(model::to_string(*q.type))));
    if (q.source_id) c.filters.push_back("source_id = " + b.param(*q.source_id));
    if (!q.statuses.empty()) {
        std::string in = "job_status IN (";
        for (std::size_t i = 0; i < q.statuses.size(); ++i) {
            if (i) in += ", ";
            in += b.param(std::string(model::to_string(q.statuses[i])));
        }
        c.filters.push_back(in + ")");
    }
    c.limit = b.param(static_cast<std::int64_t>(q.limit));
    return c;
}

// "a, b, c" as "jobs.a, jobs.b, jobs.c".
std::string qualified(std::string_view columns, std::string_view table) {
    std::string out;
    for (std::size_t at = 0; at <= columns.size();) {
        auto end = columns.find(',', at);
        if (end == std::string_view::npos) end = columns.size();
        auto name = columns.substr(at, end - at);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        if (!out.empty()) out += ", ";
        out.append(table).append(".").append(name);
        at = end + 1;
    }
    return out;
}

constexpr std::string_view newest_first = " ORDER BY created_ms DESC, uuid DESC LIMIT ";

// SQLite, a session's page: the jobs session_jobs holds up to its catch-up's seq, walked in its key
// order, and the jobs committed after that seq (store/sqlite_session_sql.hpp), found by seq; each
// part limited, then merged. The two parts are disjoint in one statement's snapshot.
std::string sqlite_session_page(const job_query& q, const conditions& c, std::string_view columns) {
    const std::string indexed = "SELECT " + qualified(columns, "jobs") + " FROM " +
                                std::string(sqlite_sessions::table) +
                                " s CROSS JOIN jobs ON jobs.seq = s.seq" + c.where(q, "s.", true) +
                                " AND s.seq <= (" + std::string(sqlite_sessions::through) + ")" +
                                " ORDER BY s.created_ms DESC, s.uuid DESC LIMIT " + c.limit;
    std::string recent = "SELECT " + std::string(columns) + " FROM jobs NOT INDEXED" + c.where(q, "", true) +
                         " AND seq > (" + std::string(sqlite_sessions::through) + ")" +
                         std::string(newest_first) + c.limit;
    return "SELECT * FROM (" + indexed + ") UNION ALL SELECT * FROM (" + recent + ")" +
           std::string(newest_first) + c.limit;
}

}  // namespace

job_query_sql list_jobs_sql(const job_query& q, std::string_view columns, bool postgres) {
    builder b(postgres);
    const conditions c = bind_conditions(q, b);
    if (!postgres && q.session_id) {
        b.out.sql = sqlite_session_page(q, c, columns);
        return std::move(b.out);
    }
    b.out.sql = "SELECT " + std::string(columns) + " FROM jobs";
    // SQLite keeps no statistics here: without a hint it may walk the account's whole history in
    // jobs_account_created for a session's few jobs. PostgreSQL's planner has statistics.
    if (!postgres) b.out.sql += " INDEXED BY jobs_account_created";
    b.out.sql += c.where(q, "", true) + std::string(newest_first) + c.limit;
    return std::move(b.out);
}

}  // namespace jobsd::store

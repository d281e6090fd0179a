// Parameters are numbered as they are added, so the text and the values cannot drift apart.
#include "store/job_query.hpp"

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
    void where(const std::string& condition) {
        out.sql += where_started_ ? " AND " : " WHERE ";
        where_started_ = true;
        out.sql += condition;
    }

    job_query_sql out;

  private:
    bool postgres_;
    bool where_started_ = false;
};

}  // namespace

job_query_sql list_jobs_sql(const job_query& q, std::string_view columns, bool postgres) {
    builder b(postgres);
    b.out.sql = "SELECT " + std::string(columns) + " FROM jobs";
    // SQLite keeps no statistics here: without a hint it may walk the account's whole history in
    // jobs_account_created for a session's few jobs. PostgreSQL's planner has statistics.
    if (!postgres)
        b.out.sql += q.session_id ? " INDEXED BY jobs_account_session" : " INDEXED BY jobs_account_created";
    b.where("account_id = " + b.param(q.account_id));
    if (q.session_id) b.where("session_id = " + b.param(*q.session_id));
    if (q.created_after) b.where("created_ms > " + b.param(*q.created_after));
    if (q.created_before) b.where("created_ms < " + b.param(*q.created_before));
    if (q.after) {
        // A row value comparison is one range bound on the index (both SQLite and PostgreSQL).
        const auto ms = b.param(q.after->created_ms);
        b.where("(created_ms, uuid) < (" + ms + ", " + b.param(q.after->uuid) + ")");
    }
    if (q.type) b.where("job_type = " + b.param(std::string(model::to_string(*q.type))));
    if (q.source_id) b.where("source_id = " + b.param(*q.source_id));
    if (!q.statuses.empty()) {
        std::string in = "job_status IN (";
        for (std::size_t i = 0; i < q.statuses.size(); ++i) {
            if (i) in += ", ";
            in += b.param(std::string(model::to_string(q.statuses[i])));
        }
        b.where(in + ")");
    }
    b.out.sql += " ORDER BY created_ms DESC, uuid DESC LIMIT " + b.param(static_cast<std::int64_t>(q.limit));
    return std::move(b.out);
}

}  // namespace jobsd::store

// The PostgreSQL session index's catch-up and the lock that makes it safe (pg_session_index.hpp).
#include "store/pg_session_index.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/pg_ops.hpp"

namespace jobsd::store::pg_sessions {

namespace {

// Statements 0-4: the horizon, under the exclusive lock, in a transaction that ends at once. The
// newest seq handed out (none yet: 0); greatest(): the mark never moves back. New inserts wait
// behind the lock's request: it gives up after 2 s (a batch stuck that long), and so does the
// catch-up, to be tried again by the next one.
// Statements 5-10: the jobs above session_jobs_through up to the horizon, in key order (each leaf
// page of the index is written once for many of a session's jobs); FOR UPDATE: two catch-ups at
// once take turns, and the second finds nothing left. ON CONFLICT: a job already there
// (session_jobs_through set back by hand) is not an error.
const std::vector<std::string>& catch_up_sql() {
    static const std::vector<std::string> sql = {
        "BEGIN",
        "SET LOCAL lock_timeout = '2s'",
        "SELECT pg_advisory_xact_lock(" + std::to_string(insert_lock_key) + ")",
        "UPDATE session_jobs_horizon SET seq = greatest(seq, coalesce(pg_sequence_last_value("
        "pg_get_serial_sequence('jobs', 'seq')::regclass), 0))",
        "COMMIT",
        "BEGIN",
        "SELECT seq FROM session_jobs_through FOR UPDATE",
        "INSERT INTO session_jobs (account_id, session_id, created_ms, uuid, seq)"
        " SELECT account_id, session_id, created_ms, uuid, seq FROM jobs"
        " WHERE seq > (SELECT seq FROM session_jobs_through) AND seq <= (SELECT seq FROM "
        "session_jobs_horizon)"
        " ORDER BY account_id, session_id, created_ms, uuid ON CONFLICT DO NOTHING",
        "UPDATE session_jobs_through SET seq = h.seq FROM session_jobs_horizon h WHERE "
        "session_jobs_through.seq "
        "< h.seq",
        "SELECT seq FROM session_jobs_through",
        "COMMIT",
    };
    return sql;
}

constexpr std::size_t through_result = 9;

struct catch_up_op final : pg_op {
    explicit catch_up_op(std::function<void(std::optional<std::int64_t>)> d) : done(std::move(d)) {}

    void add(std::vector<pg_statement>& out) const override {
        for (const auto& s : catch_up_sql()) out.push_back(pg_sql(s));
    }
    void finish(error_code ec, std::span<const pg_reply> results) override {
        std::optional<std::int64_t> through;
        if (!ec && results.size() > through_result && results[through_result].rows() == 1)
            through = results[through_result].int64(0, 0);
        done(through);
    }
    // Its own two transactions on a connection of the pool, beside the writer's batches.
    bool is_write() const override { return false; }

    std::function<void(std::optional<std::int64_t>)> done;
};

}  // namespace

catch_up_schedule::catch_up_schedule(std::int64_t rows, std::chrono::milliseconds interval,
                                     std::int64_t through)
    : rows_(static_cast<std::uint64_t>(std::max<std::int64_t>(rows, 1))),
      interval_(interval),
      through_(through) {}

bool catch_up_schedule::start(std::uint64_t committed, bool listing) {
    unindexed_ += committed;
    const auto now = std::chrono::steady_clock::now();
    const bool due = unindexed_ >= rows_ || ((unindexed_ > 0 || listing) && now - last_ >= interval_);
    if (running_ || !due) return false;
    running_ = true;
    unindexed_ = 0;
    last_ = now;
    return true;
}

void catch_up_schedule::finished(std::optional<std::int64_t> through) {
    running_ = false;
    if (through) through_ = std::max(through_, *through);
}

std::int64_t read_through(PGconn* conn) {
    const pg_reply r(PQexec(conn, "SELECT seq FROM session_jobs_through"));
    return r.ok() && r.rows() == 1 ? r.int64(0, 0) : 0;
}

pg_statement insert_lock() {
    return {"lock_inserts", {}};
}

pg_prepared insert_lock_statement() {
    return {"lock_inserts", "SELECT pg_advisory_xact_lock_shared(" + std::to_string(insert_lock_key) + ")"};
}

std::unique_ptr<pg_op> make_catch_up_op(std::function<void(std::optional<std::int64_t>)> done) {
    return std::make_unique<catch_up_op>(std::move(done));
}

}  // namespace jobsd::store::pg_sessions

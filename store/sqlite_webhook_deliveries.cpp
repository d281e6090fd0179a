// The SQLite dispatcher side of webhooks: finding due deliveries and reading the claimed ones
// (with the job and the secrets that sign them) on a reader; recording attempts and releasing an
// older jobsd's claims at start on the writer thread, inside a group-commit batch.
#include "model/clock.hpp"
#include "store/sqlite_job_row.hpp"
#include "store/sqlite_webhook_ops.hpp"

namespace jobsd::store::sqlite_webhook {

namespace {

// sqlite_job_columns with every column prefixed by "j.", for a join.
std::string joined_job_columns() {
    std::string out;
    std::string_view rest = sqlite_job_columns;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        auto name = rest.substr(0, comma);
        while (name.starts_with(' ')) name.remove_prefix(1);
        if (!out.empty()) out += ", ";
        out += "j.";
        out += name;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    return out;
}

due_delivery read_due(const sqlite_statement& st) {
    due_delivery d;
    d.id = st.column_text(0);
    d.account_id = st.column_text(1);
    d.endpoint_id = st.column_optional_text(2);
    d.url = st.column_text(3);
    d.dest = st.column_text(4);
    d.event = st.column_text(5);
    d.event_ms = st.column_int(6);
    d.attempts = static_cast<int>(st.column_int(7));
    d.secret_owner = st.column_text(8);
    d.secret = st.column_optional_text(9);
    d.previous_secret = st.column_optional_text(10);
    if (st.column_optional_text(11)) d.job = read_sqlite_job(st, 11);
    return d;
}

std::string_view status_of(delivery_outcome o) {
    switch (o) {
        case delivery_outcome::delivered:
            return "delivered";
        case delivery_outcome::retry:
            return "pending";
        case delivery_outcome::failed:
        case delivery_outcome::gone:
            break;
    }
    return "failed";
}

// 410 Gone: the endpoint is disabled and its other pending deliveries cancelled; for a job's own
// URL, the job sends nothing more.
void stop_destination(sqlite_db& db, const attempt_record& a) {
    auto& who = db.cached("SELECT endpoint_id, job_uuid FROM webhook_deliveries WHERE id = ?1");
    who.bind(1, std::string_view(a.delivery_id));
    std::optional<std::string> endpoint, job;
    db.each_row(who, "reading a delivery", [&](sqlite_statement& row) {
        endpoint = row.column_optional_text(0);
        job = std::string(row.column_text(1));
    });
    if (!job) return;
    if (endpoint) {
        auto& off = db.cached("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?2 WHERE id = ?1");
        off.bind(1, std::string_view(*endpoint));
        off.bind(2, std::string_view("the receiver answered 410 Gone"));
        db.run(off, "disabling an endpoint");
    } else {
        auto& off = db.cached(
            "UPDATE jobs SET webhook_url = NULL, webhook_dest = NULL, webhook_events = NULL WHERE uuid = ?1");
        off.bind(1, std::string_view(*job));
        db.run(off, "dropping a job's webhook");
    }
    auto& cancel = db.cached(
        "UPDATE webhook_deliveries SET status = 'cancelled', done_ms = ?3, claimed_by = NULL,"
        " claimed_until = NULL WHERE status = 'pending' AND id <> ?4 AND"
        " ((?1 IS NOT NULL AND endpoint_id = ?1) OR (?1 IS NULL AND endpoint_id IS NULL"
        " AND job_uuid = ?2))");
    cancel.bind(1, endpoint);
    cancel.bind(2, std::string_view(*job));
    cancel.bind(3, a.at_ms);
    cancel.bind(4, std::string_view(a.delivery_id));
    db.run(cancel, "cancelling deliveries");
}

}  // namespace

std::vector<board_entry> due_rows(sqlite_db& db, std::int64_t now_ms, std::size_t limit) {
    auto& st = db.cached(
        "SELECT seq, dest FROM webhook_deliveries WHERE status = 'pending' AND next_ms <= ?1"
        " ORDER BY next_ms, seq LIMIT ?2");
    st.bind(1, now_ms);
    st.bind(2, static_cast<std::int64_t>(limit));
    std::vector<board_entry> out;
    db.each_row(st, "finding due deliveries", [&](sqlite_statement& row) {
        out.push_back({row.column_int(0), std::string(row.column_text(1))});
    });
    return out;
}

void read_claimed(sqlite_db& db, const std::vector<std::int64_t>& seqs,
                  std::vector<std::pair<std::int64_t, due_delivery>>& out) {
    // Now, not the claim's time: a row handed over after the claim began is due as well.
    const std::int64_t now_ms = model::now_ms();
    static const std::string sql =
        "SELECT d.id, d.account_id, d.endpoint_id, d.url, d.dest, d.event, d.event_ms, d.attempts,"
        " d.secret_owner, s.secret, CASE WHEN s.previous_until_ms > ?2 THEN s.previous_secret END, " +
        joined_job_columns() +
        " FROM webhook_deliveries d LEFT JOIN webhook_secrets s ON s.owner = d.secret_owner"
        " LEFT JOIN jobs j ON j.uuid = d.job_uuid WHERE d.seq = ?1 AND d.status = 'pending'"
        " AND d.next_ms <= ?2";
    auto& read = db.cached(sql);
    for (auto seq : seqs) {
        read.bind(1, seq);
        read.bind(2, now_ms);
        db.each_row(read, "reading a claimed delivery",
                    [&](sqlite_statement& row) { out.emplace_back(seq, read_due(row)); });
    }
}

// An attempt that delivers is kept in its delivery's row (delivered_latency_ms); any other, or a
// delivered one whose delivery is no longer pending, gets a row of its own.
std::size_t finish(sqlite_db& db, const std::vector<attempt_record>& attempts) {
    auto& log = db.cached(
        "INSERT OR IGNORE INTO webhook_attempts (delivery_id, attempt, at_ms, status_code,"
        " latency_ms, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    auto& log_unless_kept = db.cached(
        "INSERT OR IGNORE INTO webhook_attempts (delivery_id, attempt, at_ms, status_code, latency_ms, error)"
        " SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = ?1"
        " AND attempts = ?2 AND delivered_latency_ms IS NOT NULL)");
    auto& update = db.cached(
        "UPDATE webhook_deliveries SET attempts = max(attempts, ?2), status = ?3, next_ms = ?4,"
        " last_code = ?5, last_error = ?6, done_ms = ?7, delivered_latency_ms = ?8, claimed_by = NULL,"
        " claimed_until = NULL WHERE id = ?1 AND status = 'pending'");
    std::size_t updated = 0;
    for (const auto& a : attempts) {
        const std::optional<std::int64_t> code =
            a.status_code ? std::optional<std::int64_t>(*a.status_code) : std::nullopt;
        const std::optional<std::string> error = a.error.empty() ? std::nullopt : std::optional(a.error);
        const bool retry = a.outcome == delivery_outcome::retry;
        const bool delivered = a.outcome == delivery_outcome::delivered;
        update.bind(1, std::string_view(a.delivery_id));
        update.bind(2, std::int64_t{a.attempt});
        update.bind(3, status_of(a.outcome));
        update.bind(4, retry ? a.next_ms : a.at_ms);
        update.bind(5, code);
        update.bind(6, error);
        update.bind(7, retry ? std::optional<std::int64_t>() : std::optional<std::int64_t>(a.at_ms));
        update.bind(8, delivered ? std::optional<std::int64_t>(a.latency_ms) : std::nullopt);
        db.run(update, "updating a delivery");
        const auto changed = static_cast<std::size_t>(changes(db));
        updated += changed;
        if (!delivered || changed == 0) {
            // The same attempt recorded twice is one row: also when the first was kept in its
            // delivery's row.
            auto& st = delivered ? log_unless_kept : log;
            st.bind(1, std::string_view(a.delivery_id));
            st.bind(2, std::int64_t{a.attempt});
            st.bind(3, a.at_ms);
            st.bind(4, code);
            st.bind(5, a.latency_ms);
            st.bind(6, error);
            db.run(st, "recording an attempt");
        }
        if (a.outcome == delivery_outcome::gone) stop_destination(db, a);
    }
    return updated;
}

std::size_t release(sqlite_db& db) {
    auto& st = db.cached(
        "UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL"
        " WHERE claimed_until IS NOT NULL AND status = 'pending'");
    db.run(st, "releasing claims");
    return static_cast<std::size_t>(changes(db));
}

}  // namespace jobsd::store::sqlite_webhook

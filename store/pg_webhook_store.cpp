// The PostgreSQL webhook store. Each operation is a few statements whose conditions live in the
// SQL itself (CTEs), so it fits one pipeline: writes join a group-commit transaction, reads and
// single-statement updates (the claim) run alone. The hot statements are prepared on every
// connection (pg_webhook_statements); the operator's ones travel as text.
#include "store/pg_webhook_store.hpp"

#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>

#include "store/completion.hpp"
#include "store/pg_job_row.hpp"
#include "store/pg_ops.hpp"
#include "store/store_error.hpp"

namespace jobsd::store {

namespace json = boost::json;

namespace {

using param = pg_param;
using replies = std::span<const pg_reply>;

// A webhook operation: its statements, and a function reading its value from their results.
template <class Value>
struct fn_op final : pg_op {
    fn_op(std::vector<pg_statement> s, bool w, std::function<Value(replies)> r, webhook_handler<Value> h)
        : statements(std::move(s)), write(w), read(std::move(r)), handler(std::move(h)) {}

    void add(std::vector<pg_statement>& out) const override {
        out.insert(out.end(), statements.begin(), statements.end());
    }
    void finish(error_code ec, replies results) override {
        Value value{};
        if (!ec) {
            try {
                value = read(results);
            } catch (const std::exception& e) {
                spdlog::error("postgres: reading a webhook result failed: {}", e.what());
                ec = store_errc::io;
            }
        }
        complete(std::move(handler), ec, std::move(value));
    }
    bool is_write() const override { return write; }

    std::vector<pg_statement> statements;
    bool write;
    std::function<Value(replies)> read;
    webhook_handler<Value> handler;
};

template <class Value, class Read>
std::unique_ptr<pg_op> make_op(std::vector<pg_statement> statements, bool write, Read&& read,
                               webhook_handler<Value> handler) {
    return std::make_unique<fn_op<Value>>(std::move(statements), write, std::forward<Read>(read),
                                          std::move(handler));
}

pg_statement text(std::string sql, std::vector<param> params) {
    return {std::move(sql), std::move(params), false};
}

std::string account_owner(const std::string& account_id) {
    return "account:" + account_id;
}

std::string joined_job_columns() {
    std::string out;
    std::string_view rest = pg_job_columns;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        auto name = rest.substr(0, comma);
        while (name.starts_with(' ')) name.remove_prefix(1);
        if (!out.empty()) out += ", ";
        out += "j." + std::string(name);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    return out;
}

bool rows_changed(replies r) {
    return !r.empty() && r.back().rows() > 0;
}

std::optional<int> optional_int(const pg_reply& r, int row, int col) {
    auto v = r.optional_int64(row, col);
    return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
}

delivery_attempt read_attempt(const pg_reply& r, int row, int first) {
    delivery_attempt a;
    a.attempt = static_cast<int>(r.int64(row, first));
    a.at_ms = r.int64(row, first + 1);
    a.status_code = optional_int(r, row, first + 2);
    a.latency_ms = r.int64(row, first + 3);
    a.error = r.optional_text(row, first + 4);
    return a;
}

// The attempts as json_agg wrote them: [[attempt, at_ms, status_code, latency_ms, error], …].
std::vector<delivery_attempt> parse_history(std::string_view text) {
    std::vector<delivery_attempt> out;
    const json::value doc = json::parse(text);
    for (const auto& item : doc.as_array()) {
        const auto& a = item.as_array();
        delivery_attempt d;
        d.attempt = static_cast<int>(a.at(0).to_number<std::int64_t>());
        d.at_ms = a.at(1).to_number<std::int64_t>();
        if (!a.at(2).is_null()) d.status_code = static_cast<int>(a.at(2).to_number<std::int64_t>());
        d.latency_ms = a.at(3).to_number<std::int64_t>();
        if (a.at(4).is_string()) d.error = std::string(a.at(4).get_string());
        out.push_back(std::move(d));
    }
    return out;
}

due_delivery read_due(const pg_reply& r, int row) {
    due_delivery d;
    d.id = r.text(row, 0);
    d.account_id = r.text(row, 1);
    d.endpoint_id = r.optional_text(row, 2);
    d.url = r.text(row, 3);
    d.dest = r.text(row, 4);
    d.event = r.text(row, 5);
    d.event_ms = r.int64(row, 6);
    d.attempts = static_cast<int>(r.int64(row, 7));
    d.secret_owner = r.text(row, 8);
    d.secret = r.optional_text(row, 9);
    d.previous_secret = r.optional_text(row, 10);
    if (!r.is_null(row, 11)) d.job = read_pg_job(r, row, 11);
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

}  // namespace

// declarative table
std::vector<pg_prepared> pg_webhook_statements() {
    return {
        // Due deliveries nobody holds, oldest due first, at most $6 per destination and none of
        // the skipped ones ($2); the scan over the due index is bounded first ($3), and SKIP
        // LOCKED passes over rows another instance is claiming now.
        {"webhook_claim",
         "WITH due AS (SELECT seq, dest, next_ms FROM webhook_deliveries WHERE status = 'pending'"
         " AND next_ms <= $1 AND (claimed_until IS NULL OR claimed_until < $1) AND dest <> ALL($2::text[])"
         " ORDER BY next_ms LIMIT $3 FOR UPDATE SKIP LOCKED),"
         " ranked AS (SELECT seq, next_ms, row_number() OVER (PARTITION BY dest ORDER BY next_ms, seq) AS n"
         " FROM due), claimed AS (UPDATE webhook_deliveries d SET claimed_by = $4, claimed_until = $5"
         " WHERE d.seq IN (SELECT seq FROM ranked WHERE n <= $6 ORDER BY next_ms, seq LIMIT $7) RETURNING "
         "d.*)"
         " SELECT c.id, c.account_id, c.endpoint_id, c.url, c.dest, c.event, c.event_ms, c.attempts,"
         " c.secret_owner, s.secret, CASE WHEN s.previous_until_ms > $1 THEN s.previous_secret END, " +
             joined_job_columns() +
             " FROM claimed c LEFT JOIN webhook_secrets s ON s.owner = c.secret_owner"
             " LEFT JOIN jobs j ON j.uuid = c.job_uuid ORDER BY c.next_ms, c.seq"},
        {"webhook_attempt",
         "INSERT INTO webhook_attempts (delivery_id, attempt, at_ms, status_code, latency_ms, error)"
         " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"},
        {"webhook_update",
         "UPDATE webhook_deliveries SET attempts = greatest(attempts, $2), status = $3, next_ms = $4,"
         " last_code = $5, last_error = $6, done_ms = $7, claimed_by = NULL, claimed_until = NULL"
         " WHERE id = $1 AND status = 'pending' RETURNING seq"},
        // 410 Gone: disable the endpoint (or forget the job's URL) and cancel what else is pending.
        {"webhook_gone",
         "WITH d AS (SELECT endpoint_id, job_uuid FROM webhook_deliveries WHERE id = $1),"
         " off AS (UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2"
         " WHERE id = (SELECT endpoint_id FROM d)),"
         " unhook AS (UPDATE jobs SET webhook_url = NULL, webhook_dest = NULL, webhook_events = NULL"
         " WHERE uuid = (SELECT job_uuid FROM d)"
         " AND (SELECT endpoint_id FROM d) IS NULL)"
         " UPDATE webhook_deliveries w SET status = 'cancelled', done_ms = $3, claimed_by = NULL,"
         " claimed_until = NULL FROM d WHERE w.status = 'pending' AND w.id <> $1"
         " AND ((d.endpoint_id IS NOT NULL AND w.endpoint_id = d.endpoint_id)"
         " OR (d.endpoint_id IS NULL AND w.endpoint_id IS NULL AND w.job_uuid = d.job_uuid))"},
    };
}

void pg_webhook_store::create_endpoint(webhook_endpoint e, std::string secret,
                                       webhook_handler<bool> handler) {
    std::vector<pg_statement> s{
        text("INSERT INTO webhook_endpoints (id, account_id, url, events, enabled, created_ms)"
             " VALUES ($1, $2, $3, $4, $5, $6)",
             {e.id, e.account_id, e.url, pg_number(static_cast<std::int64_t>(e.events)),
              std::string(e.enabled ? "true" : "false"), pg_number(e.created_ms)}),
        text("INSERT INTO webhook_secrets (owner, secret, rotated_ms) VALUES ($1, $2, $3)",
             {e.id, std::move(secret), pg_number(e.created_ms)})};
    submit_(make_op<bool>(
        std::move(s), true, [](replies) { return true; }, std::move(handler)));
}

void pg_webhook_store::list_endpoints(std::string account_id,
                                      webhook_handler<std::vector<webhook_endpoint>> handler) {
    std::vector<pg_statement> s{
        text("SELECT id, account_id, url, events, enabled, disabled_reason, created_ms FROM webhook_endpoints"
             " WHERE $1 = '' OR account_id = $1 ORDER BY created_ms, id",
             {std::move(account_id)})};
    auto read = [](replies r) {
        std::vector<webhook_endpoint> out;
        for (int i = 0; i < r[0].rows(); ++i)
            out.push_back({std::string(r[0].text(i, 0)), std::string(r[0].text(i, 1)),
                           std::string(r[0].text(i, 2)), static_cast<unsigned>(r[0].int64(i, 3)),
                           r[0].text(i, 4) == "t", r[0].optional_text(i, 5), r[0].int64(i, 6)});
        return out;
    };
    submit_(make_op<std::vector<webhook_endpoint>>(std::move(s), false, read, std::move(handler)));
}

void pg_webhook_store::delete_endpoint(std::string account_id, std::string id,
                                       webhook_handler<bool> handler) {
    std::vector<pg_statement> s{text(
        "WITH d AS (DELETE FROM webhook_endpoints WHERE id = $1 AND ($2 = '' OR account_id = $2) RETURNING "
        "id),"
        " s AS (DELETE FROM webhook_secrets WHERE owner IN (SELECT id FROM d)),"
        " c AS (UPDATE webhook_deliveries SET status = 'cancelled', claimed_by = NULL, claimed_until = NULL"
        " WHERE endpoint_id IN (SELECT id FROM d) AND status = 'pending') SELECT id FROM d",
        {std::move(id), std::move(account_id)})};
    submit_(make_op<bool>(std::move(s), true, rows_changed, std::move(handler)));
}

void pg_webhook_store::account_secret(std::string account_id, std::string candidate,
                                      webhook_handler<std::string> handler) {
    const std::string owner = account_owner(account_id);
    std::vector<pg_statement> s{
        text("INSERT INTO webhook_secrets (owner, secret, rotated_ms) VALUES ($1, $2,"
             " (extract(epoch from now()) * 1000)::bigint) ON CONFLICT (owner) DO NOTHING",
             {owner, std::move(candidate)}),
        text("SELECT secret FROM webhook_secrets WHERE owner = $1", {owner})};
    auto read = [](replies r) {
        if (r.size() < 2 || r[1].rows() == 0) throw std::runtime_error("the default secret is missing");
        return std::string(r[1].text(0, 0));
    };
    submit_(make_op<std::string>(std::move(s), true, read, std::move(handler)));
}

void pg_webhook_store::rotate_secret(std::string account_id, std::string owner, std::string secret,
                                     std::int64_t now_ms, std::int64_t previous_until_ms,
                                     webhook_handler<bool> handler) {
    const bool is_default = owner == default_secret_name;
    if (is_default && account_id.empty()) return complete(std::move(handler), error_code{}, false);
    std::vector<pg_statement> s{text(
        "INSERT INTO webhook_secrets (owner, secret, rotated_ms) SELECT $1, $2, $3::bigint WHERE $5::boolean"
        " OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1 AND ($4 = '' OR account_id = $4))"
        " ON CONFLICT (owner) DO UPDATE SET previous_secret = webhook_secrets.secret,"
        " previous_until_ms = $6::bigint, secret = excluded.secret, rotated_ms = $3::bigint RETURNING owner",
        {is_default ? account_owner(account_id) : owner, std::move(secret), pg_number(now_ms), account_id,
         std::string(is_default ? "true" : "false"), pg_number(previous_until_ms)})};
    submit_(make_op<bool>(std::move(s), true, rows_changed, std::move(handler)));
}

void pg_webhook_store::list_deliveries(std::string account_id, std::string owner, std::size_t limit,
                                       webhook_handler<std::optional<std::vector<delivery_info>>> handler) {
    using value = std::optional<std::vector<delivery_info>>;
    const bool is_default = owner == default_secret_name;
    if (is_default && account_id.empty()) return complete(std::move(handler), error_code{}, value{});
    const std::string where =
        is_default ? "d.account_id = $1 AND d.endpoint_id IS NULL" : "d.endpoint_id = $1";
    std::vector<pg_statement> s{
        // Whether the endpoint is the account's (the default one always is).
        text("SELECT 1 WHERE $1::boolean OR EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $2"
             " AND ($3 = '' OR account_id = $3))",
             {std::string(is_default ? "true" : "false"), owner, account_id}),
        text("SELECT d.id, d.job_uuid, d.event, d.status, d.url, d.attempts, d.created_ms, d.next_ms, "
             "d.done_ms,"
             " (SELECT coalesce(json_agg(json_build_array(a.attempt, a.at_ms, a.status_code, a.latency_ms,"
             " a.error) ORDER BY a.attempt), '[]') FROM webhook_attempts a WHERE a.delivery_id = d.id)"
             " FROM webhook_deliveries d WHERE " +
                 where + " ORDER BY d.seq DESC LIMIT $2",
             {is_default ? account_id : owner, pg_number(static_cast<std::int64_t>(limit))})};
    auto read = [](replies r) -> value {
        if (r.size() < 2 || r[0].rows() == 0) return std::nullopt;
        std::vector<delivery_info> out;
        const auto& d = r[1];
        for (int i = 0; i < d.rows(); ++i)
            out.push_back({std::string(d.text(i, 0)), std::string(d.text(i, 1)), std::string(d.text(i, 2)),
                           std::string(d.text(i, 3)), std::string(d.text(i, 4)),
                           static_cast<int>(d.int64(i, 5)), d.int64(i, 6), d.int64(i, 7),
                           d.optional_int64(i, 8), parse_history(d.text(i, 9))});
        return out;
    };
    submit_(make_op<value>(std::move(s), false, read, std::move(handler)));
}

void pg_webhook_store::redeliver(std::string account_id, std::string delivery_id, std::int64_t now_ms,
                                 webhook_handler<bool> handler) {
    // A claim still held (an attempt under way) stays: that attempt's outcome decides, as the
    // SQLite store's holds do, rather than a second send at once with the same attempt number.
    std::vector<pg_statement> s{
        text("UPDATE webhook_deliveries SET status = 'pending', next_ms = $3, done_ms = NULL,"
             " claimed_by = CASE WHEN claimed_until > $3 THEN claimed_by END,"
             " claimed_until = CASE WHEN claimed_until > $3 THEN claimed_until END WHERE id = $1 AND ($2 = "
             "'' OR account_id = $2) AND (endpoint_id IS NULL OR"
             " endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled)) RETURNING seq",
             {std::move(delivery_id), std::move(account_id), pg_number(now_ms)})};
    submit_(make_op<bool>(std::move(s), true, rows_changed, std::move(handler)));
}

void pg_webhook_store::claim_deliveries(claim_request r, webhook_handler<std::vector<due_delivery>> handler) {
    const std::size_t scan = std::min<std::size_t>(r.limit * std::max<std::size_t>(1, r.per_dest), 10'000);
    std::vector<pg_statement> s{
        {"webhook_claim",
         {pg_number(r.now_ms), pg_text_array(r.skip), pg_number(static_cast<std::int64_t>(scan)), instance_,
          pg_number(r.lease_until_ms), pg_number(static_cast<std::int64_t>(r.per_dest)),
          pg_number(static_cast<std::int64_t>(r.limit))}}};
    auto read = [](replies rs) {
        std::vector<due_delivery> out;
        for (int i = 0; i < rs[0].rows(); ++i) out.push_back(read_due(rs[0], i));
        return out;
    };
    submit_(make_op<std::vector<due_delivery>>(std::move(s), false, read, std::move(handler)));
}

void pg_webhook_store::finish_attempts(std::vector<attempt_record> attempts,
                                       webhook_handler<std::size_t> handler) {
    std::vector<pg_statement> s;
    std::vector<std::size_t> updates;  // which results are the deliveries' updates
    for (const auto& a : attempts) {
        const param code = a.status_code ? param(pg_number(std::int64_t{*a.status_code})) : std::nullopt;
        const param error = a.error.empty() ? std::nullopt : param(a.error);
        const bool retry = a.outcome == delivery_outcome::retry;
        s.push_back({"webhook_attempt",
                     {a.delivery_id, pg_number(std::int64_t{a.attempt}), pg_number(a.at_ms), code,
                      pg_number(a.latency_ms), error}});
        updates.push_back(s.size());
        s.push_back({"webhook_update",
                     {a.delivery_id, pg_number(std::int64_t{a.attempt}), std::string(status_of(a.outcome)),
                      pg_number(retry ? a.next_ms : a.at_ms), code, error,
                      retry ? std::nullopt : param(pg_number(a.at_ms))}});
        if (a.outcome == delivery_outcome::gone)
            s.push_back(
                {"webhook_gone", {a.delivery_id, "the receiver answered 410 Gone", pg_number(a.at_ms)}});
    }
    auto read = [updates](replies r) {
        std::size_t n = 0;
        for (auto i : updates)
            if (i < r.size() && r[i].rows() > 0) ++n;
        return n;
    };
    submit_(make_op<std::size_t>(std::move(s), true, read, std::move(handler)));
}

void pg_webhook_store::release_claims(webhook_handler<std::size_t> handler) {
    std::vector<pg_statement> s{
        text("WITH r AS (UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL"
             " WHERE claimed_by = $1 AND status = 'pending' RETURNING 1) SELECT count(*) FROM r",
             {instance_})};
    auto read = [](replies r) { return static_cast<std::size_t>(r[0].int64(0, 0)); };
    submit_(make_op<std::size_t>(std::move(s), false, read, std::move(handler)));
}

void pg_webhook_store::read_webhook_stats(std::int64_t now_ms, webhook_handler<webhook_stats> handler) {
    std::vector<pg_statement> s{text(
        "SELECT count(*), count(*) FILTER (WHERE next_ms <= $1), min(next_ms) FILTER (WHERE next_ms <= $1)"
        " FROM webhook_deliveries WHERE status = 'pending'",
        {pg_number(now_ms)})};
    auto read = [](replies r) {
        return webhook_stats{static_cast<std::uint64_t>(r[0].int64(0, 0)),
                             static_cast<std::uint64_t>(r[0].int64(0, 1)), r[0].optional_int64(0, 2)};
    };
    submit_(make_op<webhook_stats>(std::move(s), false, read, std::move(handler)));
}

void pg_webhook_store::recent_attempts(std::size_t limit,
                                       webhook_handler<std::vector<recent_attempt>> handler) {
    std::vector<pg_statement> s{text(
        "SELECT d.id, d.account_id, d.endpoint_id, d.url, d.event, a.attempt, a.at_ms, a.status_code,"
        " a.latency_ms, a.error FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id"
        " ORDER BY a.at_ms DESC, a.attempt DESC LIMIT $1",  // a retry in the same ms is the later
        {pg_number(static_cast<std::int64_t>(limit))})};
    auto read = [](replies r) {
        std::vector<recent_attempt> out;
        for (int i = 0; i < r[0].rows(); ++i)
            out.push_back({std::string(r[0].text(i, 0)), std::string(r[0].text(i, 1)),
                           r[0].optional_text(i, 2), std::string(r[0].text(i, 3)),
                           std::string(r[0].text(i, 4)), read_attempt(r[0], i, 5)});
        return out;
    };
    submit_(make_op<std::vector<recent_attempt>>(std::move(s), false, read, std::move(handler)));
}

}  // namespace jobsd::store

// The SQLite webhook store: endpoints, secrets, listings and statistics. Writes are savepointed
// functions run by the writer thread (sqlite_webhook_ops.hpp); reads run on a reader thread.
// Claims and attempts are in sqlite_webhook_deliveries.cpp.
#include "store/sqlite_webhook_store.hpp"

#include <utility>

#include "store/sqlite_webhook_ops.hpp"

namespace jobsd::store {

using namespace sqlite_webhook;

namespace {

std::string account_owner(const std::string& account_id) {
    return "account:" + account_id;
}

webhook_endpoint read_endpoint(const sqlite_statement& st) {
    webhook_endpoint e;
    e.id = st.column_text(0);
    e.account_id = st.column_text(1);
    e.url = st.column_text(2);
    e.events = static_cast<unsigned>(st.column_int(3));
    e.enabled = st.column_int(4) != 0;
    e.disabled_reason = st.column_optional_text(5);
    e.created_ms = st.column_int(6);
    return e;
}

delivery_attempt read_attempt(const sqlite_statement& st, int first) {
    delivery_attempt a;
    a.attempt = static_cast<int>(st.column_int(first));
    a.at_ms = st.column_int(first + 1);
    if (auto c = st.column_optional_int(first + 2)) a.status_code = static_cast<int>(*c);
    a.latency_ms = st.column_int(first + 3);
    a.error = st.column_optional_text(first + 4);
    return a;
}

// Whether endpoint `id` exists for `account_id` ("" for any account).
bool endpoint_known(sqlite_db& db, const std::string& account_id, const std::string& id) {
    auto& st = db.cached("SELECT 1 FROM webhook_endpoints WHERE id = ?1 AND (?2 = '' OR account_id = ?2)");
    st.bind(1, std::string_view(id));
    st.bind(2, std::string_view(account_id));
    const bool found = st.step() == SQLITE_ROW;
    st.reset();
    return found;
}

void read_history(sqlite_db& db, delivery_info& d) {
    auto& st = db.cached(
        "SELECT attempt, at_ms, status_code, latency_ms, error FROM webhook_attempts"
        " WHERE delivery_id = ?1 ORDER BY attempt");
    st.bind(1, std::string_view(d.id));
    db.each_row(st, "reading attempts",
                [&](sqlite_statement& row) { d.history.push_back(read_attempt(row, 0)); });
}

std::vector<delivery_info> read_deliveries(sqlite_db& db, const std::string& account_id,
                                           const std::optional<std::string>& endpoint, std::size_t limit) {
    // An endpoint's deliveries by the endpoint alone (jobsctl may not know the account); the
    // default secret's by account, through the (account, endpoint) index.
    auto& st = db.cached(
        "SELECT id, job_uuid, event, status, url, attempts, created_ms, next_ms, done_ms,"
        " delivered_latency_ms, last_code, last_error"
        " FROM webhook_deliveries WHERE (?1 IS NULL AND account_id = ?2 AND endpoint_id IS NULL)"
        " OR endpoint_id = ?1 ORDER BY seq DESC LIMIT ?3");
    st.bind(1, endpoint);
    st.bind(2, std::string_view(account_id));
    st.bind(3, static_cast<std::int64_t>(limit));
    std::vector<delivery_info> out;
    std::vector<std::optional<delivery_attempt>> kept;  // the attempt kept in the row, if any
    db.each_row(st, "listing deliveries", [&](sqlite_statement& row) {
        delivery_info d;
        d.id = row.column_text(0);
        d.job_uuid = row.column_text(1);
        d.event = row.column_text(2);
        d.status = row.column_text(3);
        d.url = row.column_text(4);
        d.attempts = static_cast<int>(row.column_int(5));
        d.created_ms = row.column_int(6);
        d.next_ms = row.column_int(7);
        d.done_ms = row.column_optional_int(8);
        kept.emplace_back();
        if (auto latency = row.column_optional_int(9)) {
            const auto code = row.column_optional_int(10);
            kept.back() = delivery_attempt{d.attempts, d.done_ms.value_or(0),
                                           code ? std::optional<int>(static_cast<int>(*code)) : std::nullopt,
                                           *latency, row.column_optional_text(11)};
        }
        out.push_back(std::move(d));
    });
    for (std::size_t i = 0; i < out.size(); ++i) {
        read_history(db, out[i]);
        if (kept[i]) out[i].history.push_back(std::move(*kept[i]));
    }
    return out;
}

}  // namespace

void sqlite_webhook_store::create_endpoint(webhook_endpoint e, std::string secret,
                                           webhook_handler<bool> handler) {
    write_(make_write<bool>(
        "creating a webhook endpoint",
        [e = std::move(e), secret = std::move(secret)](sqlite_db& db, bool& created) {
            auto& ins = db.cached(
                "INSERT INTO webhook_endpoints (id, account_id, url, events, enabled, created_ms)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
            ins.bind(1, std::string_view(e.id));
            ins.bind(2, std::string_view(e.account_id));
            ins.bind(3, std::string_view(e.url));
            ins.bind(4, static_cast<std::int64_t>(e.events));
            ins.bind(5, std::int64_t{e.enabled ? 1 : 0});
            ins.bind(6, e.created_ms);
            db.run(ins, "inserting the endpoint");
            auto& sec =
                db.cached("INSERT INTO webhook_secrets (owner, secret, rotated_ms) VALUES (?1, ?2, ?3)");
            sec.bind(1, std::string_view(e.id));
            sec.bind(2, std::string_view(secret));
            sec.bind(3, e.created_ms);
            db.run(sec, "storing the endpoint's secret");
            created = true;
        },
        std::move(handler)));
}

void sqlite_webhook_store::list_endpoints(std::string account_id,
                                          webhook_handler<std::vector<webhook_endpoint>> handler) {
    read_(make_read<std::vector<webhook_endpoint>>(
        "listing webhook endpoints",
        [account_id = std::move(account_id)](sqlite_db& db, std::vector<webhook_endpoint>& out) {
            auto& st = db.cached(
                "SELECT id, account_id, url, events, enabled, disabled_reason, created_ms"
                " FROM webhook_endpoints WHERE ?1 = '' OR account_id = ?1 ORDER BY created_ms, id");
            st.bind(1, std::string_view(account_id));
            db.each_row(st, "listing endpoints",
                        [&](sqlite_statement& row) { out.push_back(read_endpoint(row)); });
        },
        std::move(handler)));
}

void sqlite_webhook_store::delete_endpoint(std::string account_id, std::string id,
                                           webhook_handler<bool> handler) {
    write_(make_write<bool>(
        "removing a webhook endpoint",
        [account_id = std::move(account_id), id = std::move(id)](sqlite_db& db, bool& found) {
            auto& del =
                db.cached("DELETE FROM webhook_endpoints WHERE id = ?1 AND (?2 = '' OR account_id = ?2)");
            del.bind(1, std::string_view(id));
            del.bind(2, std::string_view(account_id));
            db.run(del, "removing the endpoint");
            found = changes(db) > 0;
            if (!found) return;
            auto& sec = db.cached("DELETE FROM webhook_secrets WHERE owner = ?1");
            sec.bind(1, std::string_view(id));
            db.run(sec, "removing the endpoint's secret");
            auto& cancel = db.cached(
                "UPDATE webhook_deliveries SET status = 'cancelled', claimed_by = NULL,"
                " claimed_until = NULL WHERE endpoint_id = ?1 AND status = 'pending'");
            cancel.bind(1, std::string_view(id));
            db.run(cancel, "cancelling the endpoint's deliveries");
        },
        std::move(handler)));
}

void sqlite_webhook_store::account_secret(std::string account_id, std::string candidate,
                                          webhook_handler<std::string> handler) {
    write_(make_write<std::string>(
        "reading the default webhook secret",
        [owner = account_owner(account_id), candidate = std::move(candidate)](sqlite_db& db,
                                                                              std::string& secret) {
            auto& ins = db.cached(
                "INSERT OR IGNORE INTO webhook_secrets (owner, secret, rotated_ms)"
                " VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER) * 1000)");
            ins.bind(1, std::string_view(owner));
            ins.bind(2, std::string_view(candidate));
            db.run(ins, "creating the default secret");
            auto& sel = db.cached("SELECT secret FROM webhook_secrets WHERE owner = ?1");
            sel.bind(1, std::string_view(owner));
            db.each_row(sel, "reading the default secret",
                        [&](sqlite_statement& row) { secret = row.column_text(0); });
        },
        std::move(handler)));
}

void sqlite_webhook_store::rotate_secret(std::string account_id, std::string owner, std::string secret,
                                         std::int64_t now_ms, std::int64_t previous_until_ms,
                                         webhook_handler<bool> handler) {
    write_(make_write<bool>(
        "rotating a webhook secret",
        [=, secret = std::move(secret)](sqlite_db& db, bool& found) {
            const bool is_default = owner == default_secret_name;
            if (is_default ? account_id.empty() : !endpoint_known(db, account_id, owner)) return;
            const std::string key = is_default ? account_owner(account_id) : owner;
            // A default secret never read yet is simply created; there is nothing to overlap.
            auto& st = db.cached(
                "INSERT INTO webhook_secrets (owner, secret, rotated_ms) VALUES (?1, ?2, ?3)"
                " ON CONFLICT (owner) DO UPDATE SET previous_secret = secret,"
                " previous_until_ms = ?4, secret = excluded.secret, rotated_ms = ?3");
            st.bind(1, std::string_view(key));
            st.bind(2, std::string_view(secret));
            st.bind(3, now_ms);
            st.bind(4, previous_until_ms);
            db.run(st, "rotating the secret");
            found = true;
        },
        std::move(handler)));
}

void sqlite_webhook_store::list_deliveries(
    std::string account_id, std::string owner, std::size_t limit,
    webhook_handler<std::optional<std::vector<delivery_info>>> handler) {
    read_(make_read<std::optional<std::vector<delivery_info>>>(
        "listing webhook deliveries",
        [account_id = std::move(account_id), owner = std::move(owner), limit](
            sqlite_db& db, std::optional<std::vector<delivery_info>>& out) {
            if (owner == default_secret_name) {
                if (!account_id.empty()) out = read_deliveries(db, account_id, std::nullopt, limit);
            } else if (endpoint_known(db, account_id, owner)) {
                out = read_deliveries(db, account_id, owner, limit);
            }
        },
        std::move(handler)));
}

void sqlite_webhook_store::redeliver(std::string account_id, std::string delivery_id, std::int64_t now_ms,
                                     webhook_handler<bool> handler) {
    write_(make_write<bool>(
        "redelivering a webhook",
        [account_id = std::move(account_id), id = std::move(delivery_id), now_ms](sqlite_db& db,
                                                                                  bool& found) {
            // A delivered attempt kept in the row becomes a row of its own before the row is reset.
            auto& keep = db.cached(
                "INSERT OR IGNORE INTO webhook_attempts (delivery_id, attempt, at_ms, status_code,"
                " latency_ms, error) SELECT id, attempts, done_ms, last_code, delivered_latency_ms,"
                " last_error FROM webhook_deliveries WHERE id = ?1 AND (?2 = '' OR account_id = ?2)"
                " AND delivered_latency_ms IS NOT NULL AND (endpoint_id IS NULL OR endpoint_id IN"
                " (SELECT id FROM webhook_endpoints WHERE enabled = 1))");
            keep.bind(1, std::string_view(id));
            keep.bind(2, std::string_view(account_id));
            db.run(keep, "keeping the delivered attempt");
            auto& st = db.cached(
                "UPDATE webhook_deliveries SET status = 'pending', next_ms = ?3, done_ms = NULL,"
                " delivered_latency_ms = NULL, claimed_by = NULL, claimed_until = NULL WHERE id = ?1"
                " AND (?2 = '' OR account_id = ?2) AND (endpoint_id IS NULL OR endpoint_id IN"
                " (SELECT id FROM webhook_endpoints WHERE enabled = 1))");
            st.bind(1, std::string_view(id));
            st.bind(2, std::string_view(account_id));
            st.bind(3, now_ms);
            db.run(st, "making the delivery due");
            found = changes(db) > 0;
        },
        [this, handler = std::move(handler)](error_code ec, bool found) mutable {
            if (found) {
                std::lock_guard lock(board_mutex_);
                board_.want_sweep();
            }
            complete(std::move(handler), ec, found);
        }));
}

void sqlite_webhook_store::handed_over(std::vector<board_entry>&& fresh) {
    inbox_.put(std::move(fresh));
}

void sqlite_webhook_store::absorb_inbox() {
    auto in = inbox_.take();
    board_.add(in.entries);
    if (in.overflowed) board_.want_sweep();
}

// The table is read only when the board may not know everything (delivery_board::sweep_due): on
// a reader, through the covering due index; what it finds joins the board, then the claim picks.
void sqlite_webhook_store::claim_deliveries(claim_request request,
                                            webhook_handler<std::vector<due_delivery>> handler) {
    std::size_t limit = 0;
    {
        std::lock_guard lock(board_mutex_);
        absorb_inbox();
        if (board_.sweep_due(request.now_ms)) limit = board_.sweep_limit(request.limit * request.per_dest);
    }
    if (limit == 0) return take(std::move(request), std::move(handler));
    auto look = [now = request.now_ms, limit](sqlite_db& db, std::vector<board_entry>& rows) {
        rows = due_rows(db, now, limit);
    };
    auto then = [this, request, limit, handler = std::move(handler)](error_code ec,
                                                                     std::vector<board_entry> rows) mutable {
        {
            std::lock_guard lock(board_mutex_);
            if (ec)
                board_.want_sweep();
            else
                board_.swept(rows, limit, request.now_ms);
        }
        if (ec) return complete(std::move(handler), ec, std::vector<due_delivery>{});
        take(std::move(request), std::move(handler));
    };
    read_(make_read<std::vector<board_entry>>("looking for due webhook deliveries", std::move(look),
                                              std::move(then)));
}

void sqlite_webhook_store::take(claim_request request, webhook_handler<std::vector<due_delivery>> handler) {
    std::vector<std::int64_t> picked;
    {
        std::lock_guard lock(board_mutex_);
        absorb_inbox();
        picked = board_.pick(request);
    }
    if (picked.empty()) return complete(std::move(handler), error_code{}, std::vector<due_delivery>{});
    using read_rows = std::vector<std::pair<std::int64_t, due_delivery>>;
    auto read = [picked](sqlite_db& db, read_rows& out) { read_claimed(db, picked, out); };
    auto then = [this, picked, handler = std::move(handler)](error_code ec, read_rows rows) mutable {
        std::vector<due_delivery> due;
        {
            std::lock_guard lock(board_mutex_);
            if (ec) {
                board_.unpick(picked);
            } else {
                std::vector<std::pair<std::int64_t, std::string>> ids;
                for (const auto& [seq, d] : rows) ids.emplace_back(seq, d.id);
                board_.claimed(picked, ids);
            }
        }
        for (auto& row : rows) due.push_back(std::move(row.second));
        complete(std::move(handler), ec, std::move(due));
    };
    read_(make_read<read_rows>("reading claimed webhook deliveries", std::move(read), std::move(then)));
}

// Holds end once the attempts are committed, not before: until then the rows still look due.
void sqlite_webhook_store::finish_attempts(std::vector<attempt_record> attempts,
                                           webhook_handler<std::size_t> handler) {
    std::vector<std::string> ids;
    std::optional<std::int64_t> retry_at;
    for (const auto& a : attempts) {
        ids.push_back(a.delivery_id);
        if (a.outcome == delivery_outcome::retry)
            retry_at = std::min(retry_at.value_or(a.next_ms), a.next_ms);
    }
    auto then = [this, ids = std::move(ids), retry_at, handler = std::move(handler)](error_code ec,
                                                                                     std::size_t n) mutable {
        if (!ec) {
            std::lock_guard lock(board_mutex_);
            board_.release(ids);
            if (retry_at) board_.retry_at(*retry_at);
        }
        complete(std::move(handler), ec, n);
    };
    write_(make_write<std::size_t>(
        "recording webhook attempts",
        [attempts = std::move(attempts)](sqlite_db& db, std::size_t& n) { n = finish(db, attempts); },
        std::move(then)));
}

// The board's holds and any claim rows an older jobsd wrote.
void sqlite_webhook_store::release_claims(webhook_handler<std::size_t> handler) {
    auto then = [this, handler = std::move(handler)](error_code ec, std::size_t n) mutable {
        if (!ec) {
            std::lock_guard lock(board_mutex_);
            n += board_.release_all();
        }
        complete(std::move(handler), ec, n);
    };
    write_(make_write<std::size_t>(
        "releasing webhook claims", [](sqlite_db& db, std::size_t& n) { n = release(db); }, std::move(then)));
}

void sqlite_webhook_store::read_webhook_stats(std::int64_t now_ms, webhook_handler<webhook_stats> handler) {
    read_(make_read<webhook_stats>(
        "reading webhook statistics",
        [now_ms](sqlite_db& db, webhook_stats& stats) {
            auto& st = db.cached(
                "SELECT count(*), coalesce(sum(next_ms <= ?1), 0),"
                " min(CASE WHEN next_ms <= ?1 THEN next_ms END)"
                " FROM webhook_deliveries WHERE status = 'pending'");
            st.bind(1, now_ms);
            db.each_row(st, "counting deliveries", [&](sqlite_statement& row) {
                stats.pending = static_cast<std::uint64_t>(row.column_int(0));
                stats.due = static_cast<std::uint64_t>(row.column_int(1));
                stats.oldest_due_ms = row.column_optional_int(2);
            });
        },
        std::move(handler)));
}

void sqlite_webhook_store::recent_attempts(std::size_t limit,
                                           webhook_handler<std::vector<recent_attempt>> handler) {
    read_(make_read<std::vector<recent_attempt>>(
        "listing recent webhook attempts",
        [limit](sqlite_db& db, std::vector<recent_attempt>& out) {
            auto& st = db.cached(
                "SELECT * FROM (SELECT d.id, d.account_id, d.endpoint_id, d.url, d.event, a.attempt, a.at_ms,"
                " a.status_code, a.latency_ms, a.error FROM webhook_attempts a"
                " JOIN webhook_deliveries d ON d.id = a.delivery_id"
                " ORDER BY a.at_ms DESC, a.attempt DESC LIMIT ?1)"
                " UNION ALL SELECT * FROM (SELECT id, account_id, endpoint_id, url, event, attempts, done_ms,"
                " last_code, delivered_latency_ms, last_error FROM webhook_deliveries"
                " WHERE delivered_latency_ms IS NOT NULL ORDER BY done_ms DESC LIMIT ?1)"
                // Newest first; a retry in the same millisecond as the attempt before it is the later.
                " ORDER BY 7 DESC, 6 DESC LIMIT ?1");
            st.bind(1, static_cast<std::int64_t>(limit));
            db.each_row(st, "listing attempts", [&](sqlite_statement& row) {
                out.push_back({std::string(row.column_text(0)), std::string(row.column_text(1)),
                               row.column_optional_text(2), std::string(row.column_text(3)),
                               std::string(row.column_text(4)), read_attempt(row, 5)});
            });
        },
        std::move(handler)));
}

}  // namespace jobsd::store

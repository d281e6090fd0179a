// Inside the SQLite adapter: a write or read operation made of a function over the connection, for
// the webhook store's many small statements. A write runs inside the batch's transaction, within
// a savepoint of its own, so a failure undoes its own statements and nobody else's.
//
// Thread safety: as store/sqlite_ops.hpp (an op is run and completed once, by one thread).
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <string>
#include <utility>

#include "store/completion.hpp"
#include "store/delivery_board.hpp"
#include "store/sqlite_ops.hpp"
#include "store/store_error.hpp"
#include "store/webhook_store.hpp"

namespace jobsd::store::sqlite_webhook {

// Rows the last statement changed.
inline std::int64_t changes(sqlite_db& db) {
    return sqlite3_changes64(db.handle());
}

template <class Value>
struct write_fn final : sqlite_write_op {
    using body_fn = std::function<void(sqlite_db&, Value&)>;
    write_fn(std::string w, body_fn b, webhook_handler<Value> h)
        : what(std::move(w)), body(std::move(b)), handler(std::move(h)) {}

    error_code execute(sqlite_writer_ctx& w) override {
        value = Value{};
        try {
            w.db->exec("SAVEPOINT webhook_op");
        } catch (const std::exception& e) {
            spdlog::error("store: {} failed: {}", what, e.what());
            return store_errc::io;
        }
        try {
            body(*w.db, value);
            w.db->exec("RELEASE webhook_op");
            return {};
        } catch (const std::exception& e) {
            spdlog::error("store: {} failed: {}", what, e.what());
        }
        try {
            w.db->exec("ROLLBACK TO webhook_op");
            w.db->exec("RELEASE webhook_op");
        } catch (const std::exception& e) {
            spdlog::error("store: undoing {} failed: {}", what, e.what());
        }
        return store_errc::io;
    }
    void finish(error_code ec) override {
        if (ec) value = Value{};
        complete(std::move(handler), ec, std::move(value));
    }

    std::string what;
    body_fn body;
    webhook_handler<Value> handler;
    Value value{};
};

template <class Value>
struct read_fn final : sqlite_read_op {
    using body_fn = std::function<void(sqlite_db&, Value&)>;
    read_fn(std::string w, body_fn b, webhook_handler<Value> h)
        : what(std::move(w)), body(std::move(b)), handler(std::move(h)) {}

    void run(sqlite_reader_ctx& r) override {
        Value value{};
        try {
            body(r.db, value);
        } catch (const std::exception& e) {
            spdlog::error("store: {} failed: {}", what, e.what());
            return fail(store_errc::io);
        }
        complete(std::move(handler), error_code{}, std::move(value));
    }
    void fail(error_code ec) override { complete(std::move(handler), ec, Value{}); }

    std::string what;
    body_fn body;
    webhook_handler<Value> handler;
};

template <class Value, class Body>
std::unique_ptr<sqlite_write_op> make_write(std::string what, Body&& body, webhook_handler<Value> handler) {
    return std::make_unique<write_fn<Value>>(std::move(what), std::forward<Body>(body), std::move(handler));
}

template <class Value, class Body>
std::unique_ptr<sqlite_read_op> make_read(std::string what, Body&& body, webhook_handler<Value> handler) {
    return std::make_unique<read_fn<Value>>(std::move(what), std::forward<Body>(body), std::move(handler));
}

// The delivery operations (sqlite_webhook_deliveries.cpp). due_rows: the oldest due pending
// deliveries (a sweep, on a reader); read_claimed: the rows of picked seqs still pending and due,
// with what signs and fills them (on a reader).
std::vector<board_entry> due_rows(sqlite_db& db, std::int64_t now_ms, std::size_t limit);
void read_claimed(sqlite_db& db, const std::vector<std::int64_t>& seqs,
                  std::vector<std::pair<std::int64_t, due_delivery>>& out);
std::size_t finish(sqlite_db& db, const std::vector<attempt_record>& attempts);
std::size_t release(sqlite_db& db);

}  // namespace jobsd::store::sqlite_webhook

// Plain SQLite C API on connections of the test's own, with a busy timeout so a commit of jobsd
// under way is waited for rather than reported as an error.
#include "tests/support/sqlite_file.hpp"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>

namespace jobsd::test {

namespace {

using connection = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;

connection open_existing(const std::filesystem::path& db) {
    sqlite3* conn = nullptr;
    const int rc = sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr);
    connection guard(conn, &sqlite3_close);
    if (rc != SQLITE_OK)
        throw std::runtime_error("cannot open " + db.string() + ": " +
                                 (conn != nullptr ? sqlite3_errmsg(conn) : sqlite3_errstr(rc)));
    sqlite3_busy_timeout(conn, 10'000);
    return guard;
}

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        const std::string why = err ? err : sqlite3_errmsg(db);
        sqlite3_free(err);
        throw std::runtime_error(std::string(sql) + ": " + why);
    }
}

std::int64_t query_int(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
        throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> guard(stmt, &sqlite3_finalize);
    if (sqlite3_step(stmt) != SQLITE_ROW) throw std::runtime_error(sql + ": no row: " + sqlite3_errmsg(db));
    return sqlite3_column_int64(stmt, 0);
}

}  // namespace

std::set<std::string> stored_uuids(const std::filesystem::path& db) {
    auto conn = open_existing(db);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(conn.get(), "SELECT uuid FROM jobs", -1, &stmt, nullptr) != SQLITE_OK)
        throw std::runtime_error(std::string("cannot query jobs: ") + sqlite3_errmsg(conn.get()));
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> guard(stmt, &sqlite3_finalize);
    std::set<std::string> uuids;
    int step = SQLITE_ROW;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        if (text != nullptr) uuids.insert(text);
    }
    if (step != SQLITE_DONE)
        throw std::runtime_error(std::string("reading jobs: ") + sqlite3_errmsg(conn.get()));
    return uuids;
}

std::int64_t sqlite_int(const std::filesystem::path& db, const std::string& sql) {
    auto conn = open_existing(db);
    return query_int(conn.get(), sql);
}

sqlite_write_lock::sqlite_write_lock(const std::filesystem::path& db) {
    auto conn = open_existing(db);
    exec(conn.get(), "BEGIN IMMEDIATE");
    db_ = conn.release();
    held_ = true;
    since_ = std::chrono::steady_clock::now();
}

sqlite_write_lock::~sqlite_write_lock() {
    try {
        release();
    } catch (...) {  // closing the connection below drops the lock anyway
    }
    sqlite3_close(db_);
}

void sqlite_write_lock::release() {
    if (!held_) return;
    held_ = false;
    exec(db_, "ROLLBACK");
}

std::chrono::milliseconds sqlite_write_lock::held() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since_);
}

sqlite_read_snapshot::sqlite_read_snapshot(const std::filesystem::path& db) {
    auto conn = open_existing(db);
    exec(conn.get(), "BEGIN");
    query_int(conn.get(), "SELECT count(*) FROM jobs");  // the snapshot starts at the first read
    db_ = conn.release();
    open_ = true;
}

sqlite_read_snapshot::~sqlite_read_snapshot() {
    try {
        release();
    } catch (...) {
    }
    sqlite3_close(db_);
}

std::int64_t sqlite_read_snapshot::jobs() const {
    return query_int(db_, "SELECT count(*) FROM jobs");
}

void sqlite_read_snapshot::release() {
    if (!open_) return;
    open_ = false;
    exec(db_, "COMMIT");
}

}  // namespace jobsd::test

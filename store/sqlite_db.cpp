// SQLite C API wrappers; errors carry SQLite's own message.
#include "store/sqlite_db.hpp"

namespace jobsd::store {

sqlite_statement::sqlite_statement(sqlite3* db, std::string_view sql) {
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &stmt_, nullptr);
    if (rc != SQLITE_OK)
        throw sqlite_error("prepare failed: " + std::string(sqlite3_errmsg(db)) + " in: " + std::string(sql),
                           rc);
}

sqlite_statement::~sqlite_statement() {
    sqlite3_finalize(stmt_);
}

void sqlite_statement::bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

void sqlite_statement::bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
}

void sqlite_statement::bind(int index, const std::optional<std::int64_t>& value) {
    if (value)
        bind(index, *value);
    else
        bind_null(index);
}

void sqlite_statement::bind(int index, const std::optional<std::string>& text) {
    if (text)
        bind(index, std::string_view(*text));
    else
        bind_null(index);
}

void sqlite_statement::bind(int index, const std::optional<double>& value) {
    if (value)
        sqlite3_bind_double(stmt_, index, *value);
    else
        bind_null(index);
}

void sqlite_statement::bind_null(int index) {
    sqlite3_bind_null(stmt_, index);
}

int sqlite_statement::step() {
    return sqlite3_step(stmt_);
}

void sqlite_statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int sqlite_statement::run() {
    const int rc = step();
    reset();
    return rc;
}

std::string_view sqlite_statement::column_text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view{};
}

std::optional<std::string> sqlite_statement::column_optional_text(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return std::string(column_text(col));
}

std::int64_t sqlite_statement::column_int(int col) const {
    return sqlite3_column_int64(stmt_, col);
}

std::optional<std::int64_t> sqlite_statement::column_optional_int(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return column_int(col);
}

std::optional<double> sqlite_statement::column_optional_double(int col) const {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(stmt_, col);
}

namespace {

// Process-wide settings, before SQLite initializes itself at the first open. Memory statistics
// off: with them on, every allocation SQLite makes takes a global mutex to count itself, and
// nothing here reads the counts.
void configure_sqlite() {
    // Once per process; SQLITE_MISUSE when SQLite is already initialized, which changes nothing.
    [[maybe_unused]] static const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

}  // namespace

sqlite_db::sqlite_db(const std::filesystem::path& path, mode m, const char* vfs) {
    configure_sqlite();
    const int flags =
        (m == mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
        SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw sqlite_error("cannot open " + path.string() + ": " + msg, rc);
    }
    sqlite3_extended_result_codes(db_, 1);
    // Readers may meet the writer's checkpoint; wait rather than fail.
    sqlite3_busy_timeout(db_, 5000);
}

sqlite_db::~sqlite_db() {
    cached_.clear();  // sqlite3_close refuses a connection with statements left
    sqlite3_close(db_);
}

sqlite_statement& sqlite_db::cached(std::string_view sql) {
    auto it = cached_.find(sql);
    if (it == cached_.end())
        it = cached_.emplace(std::string(sql), std::make_unique<sqlite_statement>(db_, sql)).first;
    return *it->second;
}

void sqlite_db::exec(std::string_view sql) {
    char* err = nullptr;
    const std::string text(sql);
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw sqlite_error(msg + " in: " + text, rc);
    }
}

void sqlite_db::run(sqlite_statement& st, std::string_view what) {
    const int rc = st.run();
    if (rc != SQLITE_DONE) throw sqlite_error(std::string(what) + ": " + error_message(), rc);
}

std::int64_t sqlite_db::query_int(std::string_view sql) {
    sqlite_statement st(db_, sql);
    if (st.step() != SQLITE_ROW) throw sqlite_error("no row for: " + std::string(sql), SQLITE_ERROR);
    return st.column_int(0);
}

}  // namespace jobsd::store

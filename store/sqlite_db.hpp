// Thin RAII over the SQLite C API: a connection and prepared statements.
// Thread safety: none; each object belongs to one thread (the store gives every thread its own).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace jobsd::store {

// Thrown for SQLite failures that are not an expected outcome of a statement.
class sqlite_error : public std::runtime_error {
  public:
    sqlite_error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
    int code() const noexcept { return code_; }

  private:
    int code_;
};

class sqlite_statement {
  public:
    sqlite_statement(sqlite3* db, std::string_view sql);
    ~sqlite_statement();
    sqlite_statement(const sqlite_statement&) = delete;
    sqlite_statement& operator=(const sqlite_statement&) = delete;

    // Bind by 1-based index. Text is copied (SQLITE_TRANSIENT) only when `copy` is set.
    void bind(int index, std::string_view text);
    void bind(int index, std::int64_t value);
    void bind(int index, const std::optional<std::int64_t>& value);
    void bind(int index, const std::optional<std::string>& text);
    void bind(int index, const std::optional<double>& value);
    void bind_null(int index);

    // SQLITE_ROW or SQLITE_DONE; any other result code is returned too, for the caller to judge.
    int step();
    void reset();  // reset and clear bindings
    // Steps once and resets: for a statement that returns no rows. SQLITE_DONE when it succeeded.
    int run();

    std::string_view column_text(int col) const;
    std::optional<std::string> column_optional_text(int col) const;
    std::int64_t column_int(int col) const;
    std::optional<std::int64_t> column_optional_int(int col) const;
    std::optional<double> column_optional_double(int col) const;

  private:
    sqlite3_stmt* stmt_ = nullptr;
};

class sqlite_db {
  public:
    enum class mode { read_write, read_only };

    // `vfs`: the name of a registered VFS (store/sqlite_nowait_vfs.hpp), or null for the default.
    sqlite_db(const std::filesystem::path& path, mode m, const char* vfs = nullptr);
    ~sqlite_db();
    sqlite_db(const sqlite_db&) = delete;
    sqlite_db& operator=(const sqlite_db&) = delete;

    sqlite3* handle() const noexcept { return db_; }
    // The statement for `sql`, prepared on first use and kept for the connection's life (a
    // prepare costs tens of µs; the webhook store's statements run thousands of times a second).
    // The caller resets it after use (step to the end, then reset()), and never holds two uses of
    // one text at once.
    sqlite_statement& cached(std::string_view sql);
    void exec(std::string_view sql);
    // Runs `st`, which returns no rows, and resets it; throws sqlite_error naming `what` unless it
    // ran to SQLITE_DONE.
    void run(sqlite_statement& st, std::string_view what);
    // Calls f(st) on each row of `st`, then resets it, also when f throws (a cached statement left
    // mid-way would go on from there at its next use); throws unless the rows ended in SQLITE_DONE.
    template <class F>
    void each_row(sqlite_statement& st, std::string_view what, F&& f);
    std::int64_t query_int(std::string_view sql);
    std::string error_message() const { return sqlite3_errmsg(db_); }

  private:
    sqlite3* db_ = nullptr;
    // Looked up by the text as given, without copying it into a std::string.
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    // By SQL text; finalized before the connection is closed.
    std::unordered_map<std::string, std::unique_ptr<sqlite_statement>, text_hash, std::equal_to<>> cached_;
};

template <class F>
void sqlite_db::each_row(sqlite_statement& st, std::string_view what, F&& f) {
    int rc;
    try {
        while ((rc = st.step()) == SQLITE_ROW) f(st);
    } catch (...) {
        st.reset();
        throw;
    }
    st.reset();
    if (rc != SQLITE_DONE) throw sqlite_error(std::string(what) + ": " + error_message(), rc);
}

}  // namespace jobsd::store

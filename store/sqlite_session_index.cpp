// The writer's catch-up of session_jobs: what waits is the jobs above session_jobs_through's seq.
#include "store/sqlite_session_index.hpp"

#include "store/sqlite_session_sql.hpp"

namespace jobsd::store {

sqlite_session_index::sqlite_session_index(sqlite_db& db, std::int64_t rows,
                                           std::chrono::milliseconds interval)
    : db_(db),
      rows_(std::max<std::int64_t>(1, rows)),
      interval_(interval),
      newest_(db.handle(), "SELECT coalesce(max(seq), 0) FROM jobs"),
      catch_up_(db.handle(), sqlite_sessions::catch_up),
      advance_(db.handle(), sqlite_sessions::advance),
      through_(db.query_int(sqlite_sessions::through)),
      last_(std::chrono::steady_clock::now()) {}

bool sqlite_session_index::due(std::chrono::steady_clock::time_point now) {
    if (newest_.step() != SQLITE_ROW) {
        newest_.reset();
        return false;  // the catch-up waits; the job lists read the jobs above `through` by seq
    }
    newest_seq_ = newest_.column_int(0);
    newest_.reset();
    const std::int64_t waiting = newest_seq_ - through_;
    if (waiting <= 0) return false;
    asked_ = now;
    return waiting >= rows_ || now - last_ >= interval_;
}

error_code sqlite_session_index::execute(sqlite_writer_ctx&) {
    catch_up_.bind(1, newest_seq_);
    if (catch_up_.run() != SQLITE_DONE) {
        spdlog::error("store: indexing sessions' jobs failed: {}", db_.error_message());
        return store_errc::io;
    }
    advance_.bind(1, newest_seq_);
    if (advance_.run() != SQLITE_DONE) {
        spdlog::error("store: indexing sessions' jobs failed: {}", db_.error_message());
        return store_errc::io;
    }
    return {};
}

void sqlite_session_index::finish(error_code ec) {
    if (ec) return;
    through_ = newest_seq_;
    last_ = asked_;
}

}  // namespace jobsd::store

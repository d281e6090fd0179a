// The writer's catch-up of session_jobs: keys read as jobs commit, written in slices of a sorted
// generation (store/sqlite_session_index.hpp).
#include "store/sqlite_session_index.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "store/sqlite_session_sql.hpp"

namespace jobsd::store {

sqlite_session_index::sqlite_session_index(sqlite_db& db, std::int64_t rows,
                                           std::chrono::milliseconds interval)
    : db_(db),
      rows_(static_cast<std::size_t>(std::max<std::int64_t>(1, rows))),
      interval_(interval),
      read_(db.handle(), sqlite_sessions::committed_since),
      insert_(db.handle(), sqlite_sessions::insert),
      advance_(db.handle(), sqlite_sessions::advance),
      collected_through_(db.query_int(sqlite_sessions::through)),
      last_(std::chrono::steady_clock::now()) {}

void sqlite_session_index::collect() {
    // Full: the generation's writes are failing; read again once they hold.
    if (collected_.size() >= 2 * rows_) return;
    read_.bind(1, collected_through_);
    read_.bind(2, static_cast<std::int64_t>(2 * rows_ - collected_.size()));
    int rc;
    while ((rc = read_.step()) == SQLITE_ROW) {
        key& k = collected_.emplace_back();
        k.account_id = read_.column_text(0);
        k.session_id = read_.column_text(1);
        k.created_ms = read_.column_int(2);
        k.uuid = read_.column_text(3);
        k.seq = read_.column_int(4);
        collected_through_ = k.seq;
    }
    read_.reset();
    // What was read holds (committed jobs); what was not is read by the next transaction.
    if (rc != SQLITE_DONE)
        spdlog::warn("store: reading jobs for the sessions' index failed: {}", db_.error_message());
}

bool sqlite_session_index::due(std::chrono::steady_clock::time_point now) {
    if (written_ == generation_.size()) {
        if (collected_.empty()) return false;
        if (collected_.size() < rows_ && now - last_ < interval_) return false;
        generation_ = std::exchange(collected_, {});
        generation_through_ = collected_through_;  // written_ is 0: finish() reset it with the last slice
        last_ = now;
        std::sort(generation_.begin(), generation_.end(), [](const key& a, const key& b) {
            return std::tie(a.account_id, a.session_id, a.created_ms, a.uuid) <
                   std::tie(b.account_id, b.session_id, b.created_ms, b.uuid);
        });
    }
    slice_end_ = std::min(generation_.size(), written_ + slice_rows);
    return true;
}

error_code sqlite_session_index::execute(sqlite_writer_ctx&) {
    for (std::size_t i = written_; i < slice_end_; ++i) {
        const key& k = generation_[i];
        insert_.bind(1, std::string_view(k.account_id));
        insert_.bind(2, std::string_view(k.session_id));
        insert_.bind(3, k.created_ms);
        insert_.bind(4, std::string_view(k.uuid));
        insert_.bind(5, k.seq);
        if (insert_.run() != SQLITE_DONE) {
            spdlog::error("store: indexing sessions' jobs failed: {}", db_.error_message());
            return store_errc::io;
        }
    }
    if (slice_end_ < generation_.size()) return {};
    advance_.bind(1, generation_through_);
    if (advance_.run() != SQLITE_DONE) {
        spdlog::error("store: indexing sessions' jobs failed: {}", db_.error_message());
        return store_errc::io;
    }
    return {};
}

void sqlite_session_index::finish(error_code ec) {
    if (ec) return;
    written_ = slice_end_;
    if (written_ < generation_.size()) return;
    generation_.clear();
    written_ = 0;
}

}  // namespace jobsd::store

// Reading a jobs row from a SQLite statement. A stored type or status this build does not know
// reads as video / QUEUED rather than failing the whole read.
#include "store/sqlite_job_row.hpp"

#include "store/sqlite_outbox_sql.hpp"

namespace jobsd::store {

job_record read_sqlite_job(const sqlite_statement& st, int first) {
    job_record j;
    j.uuid = st.column_text(first + 0);
    j.account_id = st.column_text(first + 1);
    j.source_id = st.column_text(first + 2);
    j.type = model::parse_job_type(st.column_text(first + 3)).value_or(model::job_type::video);
    j.status = model::parse_job_status(st.column_text(first + 4)).value_or(model::job_status::queued);
    j.session_id = st.column_text(first + 5);
    j.input = st.column_text(first + 6);
    j.output = st.column_optional_text(first + 7);
    j.error = st.column_optional_text(first + 8);
    j.created_ms = st.column_int(first + 9);
    j.updated_ms = st.column_int(first + 10);
    j.version = st.column_optional_double(first + 11);
    if (auto p = st.column_optional_int(first + 12)) j.progress = static_cast<int>(*p);
    j.idempotency_key = st.column_text(first + 13);  // NULL (no key) reads as ""
    j.request_hash = st.column_text(first + 14);
    j.batch_id = st.column_text(first + 15);  // NULL (a single create) reads as ""
    j.attempt = static_cast<int>(st.column_int(first + 16));
    j.expires_in_ms = st.column_optional_int(first + 17);
    j.expires_at_ms = st.column_optional_int(first + 18);
    j.cancel_requested_ms = st.column_optional_int(first + 19);
    j.retry_at_ms = st.column_optional_int(first + 20);
    j.priority = static_cast<int>(st.column_int(first + 21));
    j.fair_key = st.column_optional_double(first + 22);
    j.traceparent = st.column_text(first + 23);  // NULL (a job from before traces) reads as ""
    return j;
}

std::string select_sqlite_admin_jobs(std::string_view rest) {
    return "SELECT seq, NOT " + std::string(sqlite_outbox::waiting) + ", " + std::string(sqlite_job_columns) +
           " FROM jobs " + std::string(rest);
}

admin_job read_sqlite_admin_job(const sqlite_statement& st) {
    admin_job a;
    a.seq = st.column_int(0);
    a.published = st.column_int(1) != 0;
    a.job = read_sqlite_job(st, 2);
    return a;
}

}  // namespace jobsd::store

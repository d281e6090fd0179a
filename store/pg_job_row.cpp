// Reading a jobs row from a PostgreSQL result (text format). A stored type or status this
// build does not know reads as video / QUEUED rather than failing the whole read.
#include "store/pg_job_row.hpp"

namespace jobsd::store {

job_record read_pg_job(const pg_reply& r, int row, int first) {
    job_record j;
    j.uuid = r.text(row, first + 0);
    j.account_id = r.text(row, first + 1);
    j.source_id = r.text(row, first + 2);
    j.type = model::parse_job_type(r.text(row, first + 3)).value_or(model::job_type::video);
    j.status = model::parse_job_status(r.text(row, first + 4)).value_or(model::job_status::queued);
    j.session_id = r.text(row, first + 5);
    j.input = r.text(row, first + 6);
    j.output = r.optional_text(row, first + 7);
    j.error = r.optional_text(row, first + 8);
    j.created_ms = r.int64(row, first + 9);
    j.updated_ms = r.int64(row, first + 10);
    j.version = r.optional_double(row, first + 11);
    if (auto p = r.optional_int64(row, first + 12)) j.progress = static_cast<int>(*p);
    j.idempotency_key = r.optional_text(row, first + 13).value_or("");  // NULL: no key
    j.request_hash = r.optional_text(row, first + 14).value_or("");
    j.batch_id = r.optional_text(row, first + 15).value_or("");  // NULL: a single create
    j.attempt = static_cast<int>(r.int64(row, first + 16));
    j.expires_in_ms = r.optional_int64(row, first + 17);
    j.expires_at_ms = r.optional_int64(row, first + 18);
    j.cancel_requested_ms = r.optional_int64(row, first + 19);
    j.retry_at_ms = r.optional_int64(row, first + 20);
    j.priority = static_cast<int>(r.int64(row, first + 21));
    j.fair_key = r.optional_double(row, first + 22);
    return j;
}

std::string select_pg_admin_jobs(std::string_view rest) {
    return "SELECT seq, published, " + std::string(pg_job_columns) + " FROM jobs " + std::string(rest);
}

admin_job read_pg_admin_job(const pg_reply& r, int row) {
    admin_job a;
    a.seq = r.int64(row, 0);
    a.published = r.text(row, 1) == "t";  // a boolean in text format
    a.job = read_pg_job(r, row, 2);
    return a;
}

}  // namespace jobsd::store

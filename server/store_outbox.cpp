// Completions here have no executor of their own, so they run inline on the store's thread.
// A store call that throws instead of completing (an outage) becomes an error answer: the
// outbox interface reports failures as values.
#include "server/store_outbox.hpp"

namespace jobsd::server {

void store_outbox::claim(std::int64_t after_seq, std::size_t limit,
                         std::function<void(std::error_code, std::vector<entry>)> done) {
    auto answer = [done](store::error_code ec, std::vector<store::outbox_entry> rows) {
        std::vector<entry> out;
        out.reserve(rows.size());
        for (auto& r : rows) out.push_back({r.seq, std::move(r.job)});
        done(ec, std::move(out));
    };
    try {
        store_.claim_unpublished(after_seq, limit, std::move(answer));
    } catch (const std::exception&) {
        done(std::make_error_code(std::errc::io_error), {});
    }
}

void store_outbox::mark_published(std::vector<model::job_attempt> published,
                                  std::function<void(std::error_code)> done) {
    auto answer = [done](store::error_code ec) { done(ec); };
    try {
        store_.mark_published(std::move(published), std::move(answer));
    } catch (const std::exception&) {
        done(std::make_error_code(std::errc::io_error));
    }
}

void store_outbox::renew(std::vector<std::string> uuids,
                         std::function<void(std::error_code, std::vector<std::string>)> done) {
    auto answer = [done](store::error_code ec, std::vector<std::string> renewed) {
        done(ec, std::move(renewed));
    };
    try {
        store_.renew_claims(std::move(uuids), std::move(answer));
    } catch (const std::exception&) {
        done(std::make_error_code(std::errc::io_error), {});
    }
}

}  // namespace jobsd::server

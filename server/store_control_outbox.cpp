// As store_outbox.cpp: completions run inline on the store's thread, and a store call that
// throws instead of completing becomes an error answer.
#include "server/store_control_outbox.hpp"

namespace jobsd::server {

void store_control_outbox::list(std::size_t limit,
                                std::function<void(std::error_code, std::vector<entry>)> done) {
    auto answer = [done](store::error_code ec, std::vector<store::control_entry> rows) {
        std::vector<entry> out;
        out.reserve(rows.size());
        for (auto& r : rows)
            out.push_back({r.seq, queue::control_message{std::move(r.kind), std::move(r.uuid),
                                                         std::string(model::to_string(r.type)), r.attempt,
                                                         r.created_ms}});
        done(ec, std::move(out));
    };
    try {
        store_.list_control_messages(limit, std::move(answer));
    } catch (const std::exception&) {
        done(std::make_error_code(std::errc::io_error), {});
    }
}

void store_control_outbox::remove(std::vector<std::int64_t> seqs, std::function<void(std::error_code)> done) {
    auto answer = [done](store::error_code ec) { done(ec); };
    try {
        store_.remove_control_messages(std::move(seqs), std::move(answer));
    } catch (const std::exception&) {
        done(std::make_error_code(std::errc::io_error));
    }
}

}  // namespace jobsd::server

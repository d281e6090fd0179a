// Completions here have no executor of their own, so they run inline on the store's thread.
#include "server/store_outbox.hpp"

#include <boost/asio/use_future.hpp>

namespace jobsd::server {

std::vector<queue::outbox::entry> store_outbox::claim(std::int64_t after_seq, std::size_t limit) {
    auto rows = store::async_claim_unpublished(store_, after_seq, limit, boost::asio::use_future).get();
    std::vector<entry> out;
    out.reserve(rows.size());
    for (auto& r : rows) out.push_back({r.seq, std::move(r.job)});
    return out;
}

void store_outbox::mark_published(std::vector<std::string> uuids, std::function<void(bool ok)> done) {
    store_.mark_published(std::move(uuids), [done = std::move(done)](store::error_code ec) { done(!ec); });
}

}  // namespace jobsd::server

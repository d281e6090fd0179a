// The publisher's view of the store: the outbox interface of queue/ implemented over store/.
// Thread safety: as the store's; claim() blocks its caller (the publisher thread).
#pragma once

#include "queue/outbox.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class store_outbox final : public queue::outbox {
  public:
    explicit store_outbox(store::store& s) : store_(s) {}

    std::vector<entry> claim(std::int64_t after_seq, std::size_t limit) override;
    void mark_published(std::vector<std::string> uuids, std::function<void(bool ok)> done) override;

  private:
    store::store& store_;
};

}  // namespace jobsd::server

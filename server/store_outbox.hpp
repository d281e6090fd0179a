// The publisher's view of the store: the outbox interface of queue/ implemented over store/.
// Thread safety: as the store's; both calls return at once, their answers run on a store thread.
#pragma once

#include "queue/outbox.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class store_outbox final : public queue::outbox {
  public:
    explicit store_outbox(store::store& s) : store_(s) {}

    void claim(std::int64_t after_seq, std::size_t limit,
               std::function<void(std::error_code, std::vector<entry>)> done) override;
    void mark_published(std::vector<model::job_attempt> published,
                        std::function<void(std::error_code)> done) override;
    void renew(std::vector<std::string> uuids,
               std::function<void(std::error_code, std::vector<std::string>)> done) override;
    std::chrono::milliseconds claim_lease() const noexcept override { return store_.claim_lease(); }

  private:
    store::store& store_;
};

}  // namespace jobsd::server

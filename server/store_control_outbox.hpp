// The control publisher's view of the store: the control_outbox interface of queue/ implemented
// over store/ (the job_controls table).
// Thread safety: as the store's; both calls return at once, their answers run on a store thread.
#pragma once

#include "queue/control_outbox.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class store_control_outbox final : public queue::control_outbox {
  public:
    explicit store_control_outbox(store::store& s) : store_(s) {}

    void list(std::size_t limit, std::function<void(std::error_code, std::vector<entry>)> done) override;
    void remove(std::vector<std::int64_t> seqs, std::function<void(std::error_code)> done) override;

  private:
    store::store& store_;
};

}  // namespace jobsd::server

// The consumer's sink: applies status events to the store, then notifies subscribers of the
// ones that moved a job forward.
#pragma once

#include "queue/event_sink.hpp"
#include "server/notification_hub.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class event_applier final : public queue::event_sink {
  public:
    event_applier(store::store& s, notification_hub& hub) : store_(s), hub_(hub) {}
    bool apply(std::vector<model::job_event> events) override;

  private:
    store::store& store_;
    notification_hub& hub_;
};

}  // namespace jobsd::server

// The consumer's sink: applies status events to the store, then notifies subscribers of the
// ones that moved a job forward (a retryable failure that became a retry is its QUEUED event).
#pragma once

#include <functional>

#include "queue/event_sink.hpp"
#include "server/metrics.hpp"
#include "server/notification_hub.hpp"
#include "store/store.hpp"

namespace jobsd::server {

class event_applier final : public queue::event_sink {
  public:
    // `counters` may be null (tests); it counts the automatic retries. `applied` (may be empty) runs
    // after a batch that moved a job forward was committed: the webhook dispatcher's wake-up, since
    // the same transaction may have recorded deliveries.
    event_applier(store::store& s, notification_hub& hub, metrics* counters = nullptr,
                  std::function<void()> applied = {})
        : store_(s), hub_(hub), counters_(counters), applied_(std::move(applied)) {}
    bool apply(std::vector<model::job_event> events) override;

  private:
    store::store& store_;
    notification_hub& hub_;
    metrics* counters_;
    std::function<void()> applied_;
};

}  // namespace jobsd::server

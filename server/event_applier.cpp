// Blocks the consumer thread (never an io thread) until the batch is committed.
#include "server/event_applier.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/use_future.hpp>

namespace jobsd::server {

bool event_applier::apply(std::vector<model::job_event> events) {
    std::vector<store::applied_event> applied;
    try {
        applied = store::async_apply_events(store_, std::move(events), boost::asio::use_future).get();
    } catch (const std::exception& e) {
        spdlog::error("events: applying a batch failed: {}", e.what());
        return false;
    }
    for (const auto& a : applied) {
        if (counters_ && a.event.status == model::job_status::queued) counters_->count_retry(true);
        hub_.publish(a.account_id, a.session_id, model::to_json(a.event, model::to_string(a.type)));
    }
    if (!applied.empty() && applied_) applied_();
    return true;
}

}  // namespace jobsd::server

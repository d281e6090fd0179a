// Blocks the consumer thread (never an io thread) until the batch is committed.
#include "server/event_applier.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/use_future.hpp>

namespace jobsd::server {

namespace {

struct event_note {
    std::string uuid;
    model::job_status status{};
    std::optional<int> attempt;
    std::int64_t at_ms = 0;
    std::string trace_id;
};

// Whether `a` is the store's answer to `e` (a retryable failure may come back as QUEUED).
bool answers(const store::applied_event& a, const event_note& e) {
    return a.event.uuid == e.uuid && a.event.at_ms == e.at_ms &&
           (a.event.status == e.status || e.status == model::job_status::failed);
}

// At debug level, one line per event: applied (with the status it set) or not (unknown job, an
// older attempt's, or a step back), each with its trace id. `applied` keeps the batch's order.
void log_events(const std::vector<event_note>& notes, const std::vector<store::applied_event>& applied) {
    std::size_t next = 0;
    for (const auto& e : notes) {
        if (next < applied.size() && answers(applied[next], e)) {
            const auto& a = applied[next++].event;
            spdlog::debug("job {} {} (attempt {}) trace_id={}", e.uuid, model::to_string(a.status),
                          a.attempt.value_or(0), e.trace_id);
        } else {
            spdlog::debug(
                "job {}: {} event not applied (unknown job, an older attempt or a step back) trace_id={}",
                e.uuid, model::to_string(e.status), e.trace_id);
        }
    }
}

}  // namespace

bool event_applier::apply(std::vector<model::job_event> events) {
    std::vector<event_note> notes;
    if (spdlog::should_log(spdlog::level::debug)) {
        notes.reserve(events.size());
        for (const auto& e : events) notes.push_back({e.uuid, e.status, e.attempt, e.at_ms, e.trace_id});
    }
    std::vector<store::applied_event> applied;
    try {
        applied = store::async_apply_events(store_, std::move(events), boost::asio::use_future).get();
    } catch (const std::exception& e) {
        spdlog::error("events: applying a batch failed: {}", e.what());
        return false;
    }
    log_events(notes, applied);
    const bool listened = hub_.listened();  // no event text is built when nobody listens
    for (const auto& a : applied) {
        if (counters_ && a.event.status == model::job_status::queued) counters_->count_retry(true);
        if (listened)
            hub_.publish(a.account_id, a.session_id, model::to_json(a.event, model::to_string(a.type)));
    }
    if (!applied.empty() && applied_) applied_();
    return true;
}

}  // namespace jobsd::server

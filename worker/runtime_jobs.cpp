// The worker's jobs and their status events, on the connection thread (runtime_impl.hpp): a
// delivery becomes a job on the pool unless it was cancelled before it came or its deadline has
// passed (then it is acked unrun, CANCELLED or EXPIRED); the handler's reports become events,
// published with confirms; a delivery is acked once its terminal event is confirmed.
#include <spdlog/spdlog.h>

#include <vector>

#include "model/clock.hpp"
#include "model/trace_context.hpp"
#include "model/uuid.hpp"
#include "queue/amqp_bytes.hpp"
#include "worker/ack_plan.hpp"
#include "worker/job_input.hpp"
#include "worker/runtime_impl.hpp"

namespace jobsd::worker {

namespace {

using clock = std::chrono::steady_clock;
using queue::amqp_error;

using queue::bytes;

event_fields fields(model::job_status status) {
    event_fields f;
    f.status = status;
    return f;
}

// A handler that does not return after its stop token fired is reported CANCELLED this long
// after the exec grace anyway (its pool thread stays busy until it returns).
constexpr auto cancel_slack = std::chrono::seconds(2);

}  // namespace

void worker_runtime::impl::take_delivery(queue::amqp_connection& conn, std::uint64_t tag, bool redelivered,
                                         std::string body, std::string_view traceparent) {
    stats.received.fetch_add(1);
    // The job's trace, continued with a span of this delivery's own; none if the message had none.
    const auto trace = model::parse_traceparent(traceparent);
    auto parsed = parse_job_message(std::move(body), options.job_type);
    if (!parsed.job) {
        // Never requeued: a bad message would come straight back. Dead-lettered instead.
        spdlog::warn("rejecting delivery {} of {} (dead-lettered): {} trace_id={}", tag, queue_name,
                     parsed.error, trace ? trace->trace_id : "");
        if (int rc = amqp_basic_reject(conn.state(), consume_channel, tag, 0); rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() + ": basic.reject failed: " + amqp_error_string2(rc));
        stats.rejected.fetch_add(1);
        return;
    }
    auto job = std::make_shared<job_input>(std::move(*parsed.job));
    job->redelivered = redelivered;
    const std::uint64_t id = next_job_id++;
    in_flight& j = jobs[id];
    j.delivery_tag = tag;
    j.uuid = job->uuid;
    j.attempt = job->attempt;
    j.received = clock::now();
    j.batchable = job->contract >= 3;
    j.deadline = j.received + options.timeout;
    if (trace) {
        j.traceparent = model::format_traceparent(model::child_of(*trace));
        j.trace_id = trace->trace_id;
    }
    // "job <uuid> received" as before contract 2: tests and operators read deliveries from it.
    spdlog::debug("job {} received (attempt {}, delivery {}{}) trace_id={}", j.uuid, j.attempt, tag,
                  redelivered ? ", redelivered" : "", j.trace_id);
    // Jobs that must not run are acked unrun, with the status that says why.
    if (cancels.cancelled(j.uuid, j.attempt, j.received))
        return end_unrun(id, j, model::job_status::cancelled, "cancelled before it started");
    if (job->expires_at_ms && model::now_ms() >= *job->expires_at_ms)
        return end_unrun(id, j, model::job_status::expired, "expired before it started");
    auto token = j.stop.get_token();
    j.at = std::make_shared<std::atomic<phase>>(phase::waiting);
    if (!pool.post([this, id, job, token, at = j.at] { run_job(id, *job, token, at); }, token)) {
        // Only when handlers ignore their stop token and pile up: let another worker have it.
        spdlog::warn("job {}: every pool thread is stuck; returning it to the queue trace_id={}", j.uuid,
                     j.trace_id);
        if (int rc = amqp_basic_reject(conn.state(), consume_channel, tag, 1); rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() + ": basic.reject failed: " + amqp_error_string2(rc));
        jobs.erase(id);
    }
}

// On a pool thread.
void worker_runtime::impl::run_job(std::uint64_t id, const job_input& job, std::stop_token token,
                                   const shared_phase& at) {
    phase expected = phase::waiting;
    const bool taken = at->compare_exchange_strong(expected, phase::running);
    if (!taken || token.stop_requested()) {  // cancelled, lost or released before it began
        mailbox.push({id, job_report::kind::stopped, 0, {}});
        return;
    }
    // A job that waited for a thread past its deadline is not started (job_handler.hpp).
    if (job.expires_at_ms && model::now_ms() >= *job.expires_at_ms) {
        mailbox.push({id, job_report::kind::expired, 0, {}});
        return;
    }
    mailbox.push({id, job_report::kind::started, 0, {}});
    mailbox_progress progress(mailbox, id);
    job_outcome outcome;
    try {
        outcome = handler.run(job, progress, token);
    } catch (const std::exception& e) {
        outcome = job_outcome::failure(std::string("handler error: ") + e.what());
    } catch (...) {
        outcome = job_outcome::failure("handler error: unknown exception");
    }
    // Stopped (cancelled, timed out, lost, abandoned): the outcome is not the job's.
    if (token.stop_requested()) {
        mailbox.push({id, job_report::kind::stopped, 0, {}});
        return;
    }
    mailbox.push({id, job_report::kind::finished, 0, std::move(outcome)});
}

void worker_runtime::impl::apply_reports() {
    for (auto& r : mailbox.take()) {
        // A handler that returned as its job timed out reports `finished`, not `stopped`.
        if (r.what != job_report::kind::started && r.what != job_report::kind::progress)
            handler_returned(r.job_id);
        auto it = jobs.find(r.job_id);
        if (it == jobs.end() || it->second.terminal) continue;  // late: dropped
        in_flight& j = it->second;
        switch (r.what) {
            case job_report::kind::started:
                enqueue(r.job_id, j, fields(model::job_status::started));
                break;
            case job_report::kind::progress:
                enqueue_progress(r.job_id, j, r.progress);
                break;
            case job_report::kind::finished:
                finish(r.job_id, j, std::move(r.outcome));
                break;
            case job_report::kind::expired:
                end_unrun(r.job_id, j, model::job_status::expired,
                          "expired before it started (it waited for a handler thread)");
                break;
            case job_report::kind::stopped:
                // A cancelled job's handler has returned (its processes are gone): CANCELLED now.
                if (j.cancel_deadline) end_unrun(r.job_id, j, model::job_status::cancelled, "stopped");
                break;
        }
    }
}

void worker_runtime::impl::finish(std::uint64_t id, in_flight& j, job_outcome outcome) {
    j.terminal = true;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - j.received).count();
    if (outcome.ok) {
        stats.succeeded.fetch_add(1);
        spdlog::info("job {} SUCCESS in {} ms trace_id={}", j.uuid, ms, j.trace_id);
        event_fields f = fields(model::job_status::success);
        f.output = &outcome.output;
        enqueue(id, j, f);
    } else {
        stats.failed.fetch_add(1);
        spdlog::info("job {} FAILED in {} ms{}: {} trace_id={}", j.uuid, ms,
                     outcome.retryable ? " (retryable)" : "", outcome.error, j.trace_id);
        event_fields f = fields(model::job_status::failed);
        f.error = outcome.error;
        f.retryable = outcome.retryable;
        enqueue(id, j, f);
    }
}

void worker_runtime::impl::end_unrun(std::uint64_t id, in_flight& j, model::job_status status,
                                     std::string why) {
    j.terminal = true;
    (status == model::job_status::cancelled ? stats.cancelled : stats.expired).fetch_add(1);
    spdlog::info("job {} attempt {} {}: {} trace_id={}", j.uuid, j.attempt, model::to_string(status), why,
                 j.trace_id);
    enqueue(id, j, fields(status));
}

bool worker_runtime::impl::withdraw(const in_flight& j) {
    phase expected = phase::waiting;
    return j.at && j.at->compare_exchange_strong(expected, phase::withdrawn);
}

void worker_runtime::impl::cancel_held(const std::string& uuid, int attempt, clock::time_point now) {
    for (auto& [id, j] : jobs) {
        if (j.uuid != uuid || j.attempt > attempt || j.terminal || j.cancel_deadline) continue;
        if (withdraw(j)) {  // still waiting for a pool thread: it never starts, CANCELLED now
            j.stop.request_stop();
            end_unrun(id, j, model::job_status::cancelled, "cancelled before it started");
            continue;
        }
        spdlog::info("job {} attempt {}: cancel requested; stopping it trace_id={}", j.uuid, j.attempt,
                     j.trace_id);
        j.cancel_deadline = now + options.exec.kill_grace + cancel_slack;
        j.stop.request_stop();
    }
}

// A cancelled job whose handler has not returned by its cancel deadline is reported CANCELLED
// (and its handler watched as stopped). A job past its deadline: one that runs is told to stop
// and fails; one that never got a thread goes back to the queue (another worker may have a free
// one; the queue's delivery limit bounds the round trips).
void worker_runtime::impl::check_timeouts(queue::amqp_connection& conn, clock::time_point now) {
    std::vector<std::uint64_t> released_ids;
    for (auto& [id, j] : jobs) {
        if (j.terminal) continue;
        if (j.cancel_deadline) {
            if (now < *j.cancel_deadline) continue;
            stopped.stopped(id, j.uuid, now);  // only a job a pool thread took gets a cancel deadline
            end_unrun(id, j, model::job_status::cancelled, "its handler did not return in time");
            continue;
        }
        if (now < j.deadline) continue;
        j.stop.request_stop();
        if (withdraw(j)) {  // never taken by a pool thread: back to the queue
            released_ids.push_back(id);
            continue;
        }
        stats.timed_out.fetch_add(1);
        stopped.stopped(id, j.uuid, now);
        finish(id, j,
               job_outcome::failure("timed out after " + std::to_string(options.timeout.count()) + " ms"));
    }
    for (auto id : released_ids) release(conn, id);
}

void worker_runtime::impl::release(queue::amqp_connection& conn, std::uint64_t id) {
    const in_flight& j = jobs.at(id);
    spdlog::warn(
        "job {} not started within {} ms of its delivery: every handler thread is busy ({} past their "
        "stop); released to the queue trace_id={}",
        j.uuid, options.timeout.count(), stopped.running(), j.trace_id);
    stats.released.fetch_add(1);
    requeue(conn, id);
}

std::size_t worker_runtime::impl::hand_back_waiting(queue::amqp_connection& conn) {
    std::vector<std::uint64_t> waiting;
    for (auto& [id, j] : jobs) {
        if (j.terminal || !withdraw(j)) continue;  // running, or its outcome is on its way
        j.stop.request_stop();
        waiting.push_back(id);
    }
    for (const auto id : waiting) {
        const in_flight& j = jobs.at(id);
        spdlog::info(
            "job {} attempt {}: not started when the worker stopped; handed back to the queue trace_id={}",
            j.uuid, j.attempt, j.trace_id);
        requeue(conn, id);
    }
    stats.handed_back.fetch_add(waiting.size());
    return waiting.size();
}

void worker_runtime::impl::requeue(queue::amqp_connection& conn, std::uint64_t id) {
    if (int rc = amqp_basic_reject(conn.state(), consume_channel, jobs.at(id).delivery_tag, 1);
        rc != AMQP_STATUS_OK)
        throw amqp_error("broker " + conn.where() + ": basic.reject failed: " + amqp_error_string2(rc));
    jobs.erase(id);
}

// A handler asked to stop that is still running a second later ignores its stop: its thread is
// given up for as long as it runs (logged once; the job itself was ended already).
void worker_runtime::impl::check_abandoned(clock::time_point now) {
    for (const auto& uuid : stopped.abandoned(now)) {
        stats.abandoned.fetch_add(1);
        spdlog::warn(
            "the handler of job {} ignores its stop: abandoned, its thread stays busy until it returns",
            uuid);
    }
}

void worker_runtime::impl::handler_returned(std::uint64_t id) {
    if (stopped.running() == 0) return;  // the common case: no handler was asked to stop
    const std::string uuid = stopped.uuid(id);
    if (stopped.returned(id)) spdlog::info("the abandoned handler of job {} returned", uuid);
}

void worker_runtime::impl::enqueue(std::uint64_t id, const in_flight& j, event_fields f) {
    f.uuid = j.uuid;
    f.attempt = j.attempt;
    f.worker = worker_id;
    f.at_ms = model::now_ms();
    f.traceparent = j.traceparent;
    pending.push_back(
        {id, make_status_event(options.job_type, f, model::new_uuid()), j.batchable, clock::now()});
}

// A progress event still waiting to be sent is updated instead of queueing another.
void worker_runtime::impl::enqueue_progress(std::uint64_t id, const in_flight& j, int percent) {
    event_fields f = fields(model::job_status::in_progress);
    f.uuid = j.uuid;
    f.attempt = j.attempt;
    f.progress = percent;
    f.worker = worker_id;
    f.at_ms = model::now_ms();
    f.traceparent = j.traceparent;
    for (auto& p : pending)
        if (p.job_id == id && p.event.status == "IN_PROGRESS") {
            p.event = make_status_event(options.job_type, f, std::move(p.event.message_id));
            return;
        }
    pending.push_back(
        {id, make_status_event(options.job_type, f, model::new_uuid()), j.batchable, clock::now()});
}

std::size_t worker_runtime::impl::next_message_size(clock::time_point now) const {
    std::size_t n = 0;
    while (n < pending.size() && n < options.event_batch && pending[n].batchable) ++n;
    if (n == 0) return 1;  // a contract-2 job's event goes alone, at once
    // Full, or followed by an event that may not join: no reason to wait.
    if (n == options.event_batch || n < pending.size()) return n;
    // Stopping: the jobs in hand are waiting for their acks.
    if (now >= pending.front().queued + options.event_linger || stop_requests.load() > 0) return n;
    return 0;
}

bool worker_runtime::impl::publish_pending(queue::amqp_connection& conn, clock::time_point now) {
    bool any = false;
    while (!pending.empty() && tracker.outstanding() < options.confirm_window) {
        const std::size_t n = next_message_size(now);
        if (n == 0) break;
        std::vector<pending_event> terminal;
        std::optional<status_event> batch;
        if (n > 1) {
            std::vector<const status_event*> events;
            for (std::size_t i = 0; i < n; ++i) events.push_back(&pending[i].event);
            batch = make_event_batch(options.job_type, events, model::new_uuid());
        }
        // The message's id is copied: a lone event is moved out of `pending` below.
        std::string message_id = batch ? batch->message_id : pending.front().event.message_id;
        publish(conn, batch ? *batch : pending.front().event);
        stats.events_published.fetch_add(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (pending.front().event.terminal) terminal.push_back(std::move(pending.front()));
            pending.pop_front();
        }
        if (!terminal.empty()) terminal_unconfirmed.emplace(std::move(message_id), std::move(terminal));
        any = true;
    }
    return any;
}

void worker_runtime::impl::publish(queue::amqp_connection& conn, const status_event& e) {
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                   AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.message_id = bytes(e.message_id);
    props.type = bytes(e.status);
    props.timestamp = static_cast<std::uint64_t>(e.at_ms / 1000);
    amqp_table_entry_t trace_header{};
    if (!e.traceparent.empty()) {  // the job's trace, this worker's span
        trace_header.key = amqp_cstring_bytes(queue::traceparent_header);
        trace_header.value.kind = AMQP_FIELD_KIND_UTF8;
        trace_header.value.value.bytes = bytes(e.traceparent);
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers = {1, &trace_header};
    }
    // Mandatory: with nothing bound to the events exchange the event comes back (a return
    // before its ack) instead of vanishing, and its job is not acked.
    const int rc = amqp_basic_publish(conn.state(), event_channel, bytes(options.amqp.events_exchange),
                                      bytes(e.routing_key), 1, 0, &props, bytes(e.body));
    if (rc != AMQP_STATUS_OK)
        throw amqp_error("broker " + conn.where() +
                         ": publishing an event failed: " + amqp_error_string2(rc));
    stats.event_messages.fetch_add(1);
    queue::job_message tracked;
    tracked.uuid = e.message_id;
    tracked.job_type = e.routing_key;
    tracked.created_ms = e.at_ms;
    tracker.on_publish(std::move(tracked));
}

void worker_runtime::impl::settle(queue::amqp_connection& conn, queue::confirm_tracker::settled s) {
    // The jobs whose terminal event is safe with the broker: now they may leave the queue.
    std::vector<std::uint64_t> done_ids;
    std::vector<std::uint64_t> done_tags;
    for (const auto& m : s.confirmed) {
        stats.events_confirmed.fetch_add(1);
        auto t = terminal_unconfirmed.find(m.uuid);
        if (t == terminal_unconfirmed.end()) continue;
        for (const auto& pe : t->second) {
            auto j = jobs.find(pe.job_id);
            if (j == jobs.end()) continue;
            done_ids.push_back(pe.job_id);
            done_tags.push_back(j->second.delivery_tag);
        }
        terminal_unconfirmed.erase(t);
    }
    if (!done_tags.empty()) ack(conn, std::move(done_tags));
    for (const auto id : done_ids) jobs.erase(id);
    stats.acked.fetch_add(done_ids.size());
    const auto due = clock::now() + options.amqp.retry_delay;
    for (const auto& m : s.failed) {
        stats.events_nacked.fetch_add(1);
        auto t = terminal_unconfirmed.find(m.uuid);
        if (t == terminal_unconfirmed.end()) continue;  // progress: the next one supersedes it
        for (auto& pe : t->second) {
            const auto held = jobs.find(pe.job_id);
            spdlog::warn(
                "the {} event of job {} was nacked or returned; sending it again in {} ms trace_id={}",
                pe.event.status, held != jobs.end() ? held->second.uuid : "?",
                options.amqp.retry_delay.count(), held != jobs.end() ? held->second.trace_id : "");
            retry.emplace_back(due, std::move(pe));
        }
        terminal_unconfirmed.erase(t);
    }
}

// Acks `tags`, every one a delivery held in `jobs`: one multiple ack for those that run from the
// oldest delivery held, one each for the others (a single ack per job was a settle command per
// job in the quorum queue's log).
void worker_runtime::impl::ack(queue::amqp_connection& conn, std::vector<std::uint64_t> tags) {
    std::vector<std::uint64_t> held;
    held.reserve(jobs.size());
    for (const auto& [id, j] : jobs) held.push_back(j.delivery_tag);
    const ack_plan plan = plan_acks(held, std::move(tags));
    const auto send = [&](std::uint64_t tag, bool multiple) {
        if (int rc = amqp_basic_ack(conn.state(), consume_channel, tag, multiple ? 1 : 0);
            rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() + ": basic.ack failed: " + amqp_error_string2(rc));
    };
    if (plan.up_to != 0) send(plan.up_to, true);
    for (const auto tag : plan.singles) send(tag, false);
}

// The connection is gone (or closing): the broker redelivers what was not acked.
void worker_runtime::impl::lose_in_flight() {
    if (!jobs.empty()) {
        spdlog::info("{} job(s) in flight left to the broker for redelivery", jobs.size());
        stats.lost.fetch_add(jobs.size());
    }
    for (auto& [id, j] : jobs) j.stop.request_stop();
    jobs.clear();
    pending.clear();
    retry.clear();
    tracker.reset();
    terminal_unconfirmed.clear();
    consumer_tag.clear();
    cancel_sent = false;
    blocked = false;
    redeclare = false;
}

}  // namespace jobsd::worker

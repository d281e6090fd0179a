// The worker's AMQP session user: connecting (topology, the three channels of runtime_impl.hpp),
// reading the control stream, stopping gracefully, and the step that drives the rest. The
// jobs themselves and their events are in runtime_jobs.cpp.
#include "worker/worker_runtime.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "queue/amqp_bytes.hpp"
#include "queue/control_message.hpp"
#include "queue/topology.hpp"
#include "worker/runtime_impl.hpp"

namespace jobsd::worker {

namespace {

using clock = std::chrono::steady_clock;
using queue::amqp_error;

using queue::bytes;
using queue::text;

// Control deliveries the broker may push before they are acked: cancels are small and rare.
constexpr std::uint16_t control_prefetch = 64;

}  // namespace

worker_runtime::impl::impl(worker_options o, job_handler& h, std::string id)
    : options(std::move(o)),
      handler(h),
      worker_id(std::move(id)),
      queue_name(options.amqp.queue_prefix + options.job_type),
      control_queue(options.amqp.control_queue_prefix + options.job_type),
      // Room for every delivery the prefetch lets in beyond the threads.
      pool(options.concurrency,
           std::max(4 * std::size_t{options.concurrency}, std::size_t{options.effective_prefetch()})),
      session(queue::amqp_session_options::from("worker", options.amqp), *this, mailbox.waker()),
      cancels(options.cancel_memory, options.amqp.control_retention) {}

bool worker_runtime::impl::run() {
    session.run();
    // Every job was told to stop; give handlers a moment to notice.
    return pool.wait_idle(std::chrono::seconds(2));
}

void worker_runtime::impl::on_connected(queue::amqp_connection& conn) {
    const auto state = conn.state();
    queue::declare_topology(conn, options.amqp);
    amqp_channel_open(state, event_channel);
    conn.check_last("opening the event channel");
    amqp_confirm_select(state, event_channel);
    conn.check_last("confirm.select on the event channel");
    // Cancels first, so a cancel sent before this connect is known before any job arrives.
    consume_control(conn);
    amqp_basic_qos(state, consume_channel, 0, static_cast<std::uint16_t>(options.effective_prefetch()), 0);
    conn.check_last("basic.qos");
    const auto* ok = amqp_basic_consume(state, consume_channel, bytes(queue_name), amqp_empty_bytes, 0, 0, 0,
                                        amqp_empty_table);
    conn.check_last("consuming " + queue_name);
    consumer_tag = text(ok->consumer_tag);
    cancel_sent = false;
    if (connections++ > 0) stats.reconnects.fetch_add(1);
    spdlog::info("broker {} connected; consuming {} with prefetch {} and control stream {}", conn.where(),
                 queue_name, options.effective_prefetch(), control_queue);
}

// The type's control stream, from control_retention ago: every cancel still kept, including
// those sent while this worker was away.
void worker_runtime::impl::consume_control(queue::amqp_connection& conn) {
    const auto state = conn.state();
    amqp_channel_open(state, control_channel);
    conn.check_last("opening the control channel");
    amqp_basic_qos(state, control_channel, 0, control_prefetch, 0);  // a stream consumer needs a prefetch
    conn.check_last("basic.qos on the control channel");
    const auto from = std::chrono::system_clock::now() - options.amqp.control_retention;
    queue::amqp_arguments args;
    args.add_timestamp(
        "x-stream-offset",
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::seconds>(from.time_since_epoch()).count()));
    amqp_basic_consume(state, control_channel, bytes(control_queue), amqp_empty_bytes, 0, 0, 0, args.table());
    conn.check_last("consuming the control stream " + control_queue);
}

void worker_runtime::impl::on_disconnected(std::string_view) {
    lose_in_flight();
}

queue::amqp_step worker_runtime::impl::step(queue::amqp_connection& conn, clock::time_point now) {
    if (stop_requests.load() > 0 && stop_step(conn, now)) return {true};
    while (!retry.empty() && retry.front().first <= now) {
        pending.push_front(std::move(retry.front().second));
        retry.pop_front();
    }
    apply_reports();
    check_timeouts(conn, now);
    check_abandoned(now);
    if (redeclare) {
        // An event came back unroutable: the events queue or its binding is gone. Declaring the
        // topology again (idempotent) brings them back for the retry.
        redeclare = false;
        queue::declare_topology(conn, options.amqp);
    }
    if (!blocked) publish_pending(conn, now);  // while blocked the broker reads nothing
    return {false, false, next_deadline()};
}

void worker_runtime::impl::on_return(queue::amqp_connection&, const queue::amqp_returned& r) {
    if (r.channel != event_channel) return;
    tracker.on_return(r.message_id);
    stats.events_returned.fetch_add(1);
    redeclare = true;
    spdlog::warn(
        "broker returned a status event unroutable ({} {}, routing key {}): the job stays unacked and "
        "the event is sent again",
        r.reply_code, r.reply_text, r.routing_key);
}

void worker_runtime::impl::on_flow(queue::amqp_connection& conn, bool now_blocked, std::string_view reason) {
    amqp_session_user::on_flow(conn, now_blocked, reason);  // logs it
    blocked = now_blocked;
}

void worker_runtime::impl::on_delivery(queue::amqp_connection& conn, const queue::amqp_delivery& d) {
    if (d.channel == control_channel) return take_control(conn, d);
    take_delivery(conn, d.tag, d.redelivered, std::string(d.body()), d.header(queue::traceparent_header));
}

// A control message: remembered (a job that arrives later is not run) and applied to the jobs held
// here. Acked whatever it holds: a kind this worker does not know is for newer workers.
void worker_runtime::impl::take_control(queue::amqp_connection& conn, const queue::amqp_delivery& d) {
    if (auto m = queue::parse_control_message(d.body()); m && m->kind == queue::cancel_kind) {
        const auto now = clock::now();
        cancels.remember(m->uuid, m->attempt, now);
        cancel_held(m->uuid, m->attempt, now);
    }
    if (int rc = amqp_basic_ack(conn.state(), control_channel, d.tag, 0); rc != AMQP_STATUS_OK)
        throw amqp_error("broker " + conn.where() +
                         ": acking a control message failed: " + amqp_error_string2(rc));
}

void worker_runtime::impl::on_confirm(queue::amqp_connection& conn, const queue::amqp_confirm& c) {
    if (c.channel != event_channel) return;
    settle(conn, c.ack ? tracker.on_ack(c.tag, c.multiple) : tracker.on_nack(c.tag, c.multiple));
}

// Stopping: cancels the consumer and hands back the jobs not started, once; then true when the
// session may end: every job in hand is done and acked, the grace period is over, or a second
// stop came.
bool worker_runtime::impl::stop_step(queue::amqp_connection& conn, clock::time_point now) {
    if (!cancel_sent) {
        amqp_basic_cancel_t cancel{bytes(consumer_tag), 0};
        if (amqp_send_method(conn.state(), consume_channel, AMQP_BASIC_CANCEL_METHOD, &cancel) !=
            AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() + ": basic.cancel failed");
        cancel_sent = true;
        grace_deadline = now + options.grace;
        const auto handed_back = hand_back_waiting(conn);
        spdlog::info(
            "stopping: consumer cancelled, {} job(s) not started handed back, {} in hand, grace {} ms",
            handed_back, jobs.size(), options.grace.count());
    }
    if (jobs.empty()) {
        spdlog::info("stopping: every job in hand is done and acked");
        return true;
    }
    if (now >= *grace_deadline || stop_requests.load() > 1) {
        spdlog::warn("stopping now: {} job(s) unfinished, the broker will redeliver them", jobs.size());
        return true;
    }
    return false;
}

// The next job timeout, cancel deadline, abandonment check, grace end, retry or linger's end.
worker_runtime::impl::clock::time_point worker_runtime::impl::next_deadline() const {
    auto until = clock::time_point::max();
    for (const auto& [id, j] : jobs) {
        if (j.terminal) continue;
        until = std::min(until, j.cancel_deadline ? *j.cancel_deadline : j.deadline);
    }
    until = std::min(until, stopped.next_deadline());
    if (grace_deadline && cancel_sent) until = std::min(until, *grace_deadline);
    if (!retry.empty()) until = std::min(until, retry.front().first);
    // Events waiting for others to share their message; not while nothing may be sent anyway
    // (blocked, or the confirm window full: a confirm wakes the session), or it would spin.
    if (!pending.empty() && !blocked && tracker.outstanding() < options.confirm_window)
        until = std::min(until, pending.front().queued + options.event_linger);
    return until;
}

worker_runtime::worker_runtime(worker_options options, job_handler& handler, std::string worker_id)
    : impl_(std::make_unique<impl>(std::move(options), handler, std::move(worker_id))) {}

worker_runtime::~worker_runtime() = default;

bool worker_runtime::run() {
    return impl_->run();
}

void worker_runtime::stop() noexcept {
    impl_->stop_requests.fetch_add(1);
    impl_->mailbox.wake();
}

const worker_stats& worker_runtime::stats() const noexcept {
    return impl_->stats;
}

}  // namespace jobsd::worker

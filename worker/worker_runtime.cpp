// One connection, two channels: channel 1 consumes (basic.qos prefetch = concurrency, manual
// acks), channel 2 is in confirm mode and carries only status events, published mandatory. Keeping them apart
// means every basic.ack/nack the broker sends is a confirm of channel 2's publish sequence, and the
// consumer's prefetch and delivery tags are never mixed with it. Any channel or connection
// error drops the whole connection: jobs in flight are then redelivered by the broker and their
// late results are dropped here (each delivery has an id that dies with the connection).
// The connection, its frame loop and the reconnects are an amqp_session; this is its user.
#include "worker/worker_runtime.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <optional>
#include <stop_token>
#include <unordered_map>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/amqp_session.hpp"
#include "queue/confirm_tracker.hpp"
#include "queue/topology.hpp"
#include "worker/job_input.hpp"
#include "worker/job_pool.hpp"
#include "worker/report_mailbox.hpp"
#include "worker/status_event.hpp"
#include "worker/stopped_handlers.hpp"

namespace jobsd::worker {

namespace {

using clock = std::chrono::steady_clock;
using queue::amqp_error;

constexpr amqp_channel_t consume_channel = queue::amqp_connection::channel;  // opened by amqp_connection
constexpr amqp_channel_t event_channel = 2;

amqp_bytes_t bytes(const std::string& s) {
    return {s.size(), const_cast<char*>(s.data())};
}
std::string text(amqp_bytes_t b) {
    return std::string(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace

struct worker_runtime::impl final : queue::amqp_session_user {
    // A delivery being worked on, from basic.deliver until its basic.ack.
    struct in_flight {
        std::uint64_t delivery_tag = 0;
        std::string uuid;
        std::stop_source stop;
        clock::time_point received;
        clock::time_point deadline;  // --timeout-ms from the delivery
        bool started = false;        // a handler thread took it
        bool terminal = false;       // SUCCESS/FAILED made: later reports of the handler are dropped
    };
    struct pending_event {
        std::uint64_t job_id;
        status_event event;
    };

    impl(worker_options o, job_handler& h, std::string id)
        : options(std::move(o)),
          handler(h),
          worker_id(std::move(id)),
          queue_name(options.amqp.queue_prefix + options.job_type),
          pool(options.concurrency, 4 * std::size_t{options.concurrency}),
          session(queue::amqp_session_options::from("worker", options.amqp), *this, mailbox.waker()) {}

    bool run() {
        session.run();
        // Every job was told to stop; give handlers a moment to notice.
        return pool.wait_idle(std::chrono::seconds(2));
    }

    // ---- the session's callbacks ------------------------------------------------------------

    void on_connected(queue::amqp_connection& conn) override {
        const auto state = conn.state();
        queue::declare_topology(conn, options.amqp);
        amqp_channel_open(state, event_channel);
        conn.check_last("opening the event channel");
        amqp_confirm_select(state, event_channel);
        conn.check_last("confirm.select on the event channel");
        amqp_basic_qos(state, consume_channel, 0, static_cast<std::uint16_t>(options.concurrency), 0);
        conn.check_last("basic.qos");
        const auto* ok = amqp_basic_consume(state, consume_channel, bytes(queue_name), amqp_empty_bytes, 0, 0,
                                            0, amqp_empty_table);
        conn.check_last("consuming " + queue_name);
        consumer_tag = text(ok->consumer_tag);
        cancel_sent = false;
        if (connections++ > 0) stats.reconnects.fetch_add(1);
        spdlog::info("broker {} connected; consuming {} with prefetch {}", conn.where(), queue_name,
                     options.concurrency);
    }

    void on_disconnected(std::string_view) override { lose_in_flight(); }

    bool stopping() const override { return stop_requests.load() > 0; }

    queue::amqp_step step(queue::amqp_connection& conn, clock::time_point now) override {
        if (stop_requests.load() > 0 && stop_step(conn, now)) return {true};
        while (!retry.empty() && retry.front().first <= now) {
            pending.push_front(std::move(retry.front().second));
            retry.pop_front();
        }
        apply_reports();
        check_timeouts(conn, now);
        check_abandoned(now);
        if (redeclare) {
            // An event came back unroutable: the events queue or its binding is gone. Declaring
            // the topology again (idempotent) brings them back for the retry.
            redeclare = false;
            queue::declare_topology(conn, options.amqp);
        }
        if (!blocked) publish_pending(conn);  // while blocked the broker reads nothing
        return {false, false, next_deadline()};
    }

    void on_return(queue::amqp_connection&, const queue::amqp_returned& r) override {
        if (r.channel != event_channel) return;
        tracker.on_return(r.message_id);
        stats.events_returned.fetch_add(1);
        redeclare = true;
        spdlog::warn(
            "broker returned a status event unroutable ({} {}, routing key {}): the job stays "
            "unacked and the event is sent again",
            r.reply_code, r.reply_text, r.routing_key);
    }

    void on_flow(queue::amqp_connection& conn, bool now_blocked, std::string_view reason) override {
        amqp_session_user::on_flow(conn, now_blocked, reason);  // logs it
        blocked = now_blocked;
    }

    void on_delivery(queue::amqp_connection& conn, const queue::amqp_delivery& d) override {
        take_delivery(conn, d.tag, d.redelivered, std::string(d.body()));
    }

    void on_confirm(queue::amqp_connection& conn, const queue::amqp_confirm& c) override {
        if (c.channel != event_channel) return;
        settle(conn, c.ack ? tracker.on_ack(c.tag, c.multiple) : tracker.on_nack(c.tag, c.multiple));
    }

    // Stopping: cancels the consumer once, then true when the session may end: every job in
    // hand is done and acked, the grace period is over, or a second stop came.
    bool stop_step(queue::amqp_connection& conn, clock::time_point now) {
        if (!cancel_sent) {
            amqp_basic_cancel_t cancel{bytes(consumer_tag), 0};
            if (amqp_send_method(conn.state(), consume_channel, AMQP_BASIC_CANCEL_METHOD, &cancel) !=
                AMQP_STATUS_OK)
                throw amqp_error("broker " + conn.where() + ": basic.cancel failed");
            cancel_sent = true;
            grace_deadline = now + options.grace;
            spdlog::info("stopping: consumer cancelled, {} job(s) in hand, grace {} ms", jobs.size(),
                         options.grace.count());
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

    // The next job timeout, abandonment check, grace end or retry.
    clock::time_point next_deadline() const {
        auto until = clock::time_point::max();
        for (const auto& [id, j] : jobs)
            if (!j.terminal) until = std::min(until, j.deadline);
        until = std::min(until, stopped.next_deadline());
        if (grace_deadline && cancel_sent) until = std::min(until, *grace_deadline);
        if (!retry.empty()) until = std::min(until, retry.front().first);
        return until;
    }

    // ---- jobs ------------------------------------------------------------------------------

    void take_delivery(queue::amqp_connection& conn, std::uint64_t tag, bool redelivered, std::string body) {
        stats.received.fetch_add(1);
        auto parsed = parse_job_message(std::move(body), options.job_type);
        if (!parsed.job) {
            // Never requeued: a bad message would come straight back. Dead-lettered instead.
            spdlog::warn("rejecting delivery {} of {} (dead-lettered): {}", tag, queue_name, parsed.error);
            if (int rc = amqp_basic_reject(conn.state(), consume_channel, tag, 0); rc != AMQP_STATUS_OK)
                throw amqp_error("broker " + conn.where() +
                                 ": basic.reject failed: " + amqp_error_string2(rc));
            stats.rejected.fetch_add(1);
            return;
        }
        auto job = std::make_shared<job_input>(std::move(*parsed.job));
        job->redelivered = redelivered;
        const std::uint64_t id = next_job_id++;
        in_flight& j = jobs[id];
        j.delivery_tag = tag;
        j.uuid = job->uuid;
        j.received = clock::now();
        j.deadline = j.received + options.timeout;
        spdlog::debug("job {} received (delivery {}{})", j.uuid, tag, redelivered ? ", redelivered" : "");
        auto token = j.stop.get_token();
        if (!pool.post([this, id, job, token] { run_job(id, *job, token); }, token)) {
            // Only when handlers ignore their stop token and pile up: let another worker have it.
            spdlog::warn("job {}: every pool thread is stuck; returning it to the queue", j.uuid);
            if (int rc = amqp_basic_reject(conn.state(), consume_channel, tag, 1); rc != AMQP_STATUS_OK)
                throw amqp_error("broker " + conn.where() +
                                 ": basic.reject failed: " + amqp_error_string2(rc));
            jobs.erase(id);
        }
    }

    // On a pool thread.
    void run_job(std::uint64_t id, const job_input& job, std::stop_token token) {
        if (token.stop_requested()) return;  // lost or released before it began
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
        if (token.stop_requested()) {
            // Timed out or lost: nobody wants the outcome; say the thread is free again.
            mailbox.push({id, job_report::kind::returned, 0, {}});
            return;
        }
        mailbox.push({id, job_report::kind::finished, 0, std::move(outcome)});
    }

    void apply_reports() {
        for (auto& r : mailbox.take()) {
            if (r.what == job_report::kind::returned) {
                handler_returned(r.job_id);
                continue;
            }
            auto it = jobs.find(r.job_id);
            if (it == jobs.end() || it->second.terminal) continue;  // late: dropped
            in_flight& j = it->second;
            switch (r.what) {
                case job_report::kind::started:
                    j.started = true;
                    enqueue(r.job_id, j, fields(model::job_status::started));
                    break;
                case job_report::kind::progress:
                    enqueue_progress(r.job_id, j, r.progress);
                    break;
                case job_report::kind::finished:
                    finish(r.job_id, j, std::move(r.outcome));
                    break;
                case job_report::kind::returned:
                    break;
            }
        }
    }

    void finish(std::uint64_t id, in_flight& j, job_outcome outcome) {
        j.terminal = true;
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - j.received).count();
        if (outcome.ok) {
            stats.succeeded.fetch_add(1);
            spdlog::info("job {} SUCCESS in {} ms", j.uuid, ms);
            event_fields f = fields(model::job_status::success);
            f.output = &outcome.output;
            enqueue(id, j, f);
        } else {
            stats.failed.fetch_add(1);
            spdlog::info("job {} FAILED in {} ms: {}", j.uuid, ms, outcome.error);
            event_fields f = fields(model::job_status::failed);
            f.error = outcome.error;
            enqueue(id, j, f);
        }
    }

    // A job past its deadline: one that runs is told to stop and fails; one that never got a
    // thread goes back to the queue (another worker may have a free one; the queue's delivery
    // limit bounds the round trips).
    void check_timeouts(queue::amqp_connection& conn, clock::time_point now) {
        std::vector<std::uint64_t> released_ids;
        for (auto& [id, j] : jobs) {
            if (j.terminal || now < j.deadline) continue;
            j.stop.request_stop();
            if (!j.started) {
                released_ids.push_back(id);
                continue;
            }
            stats.timed_out.fetch_add(1);
            stopped.stopped(id, j.uuid, now);
            finish(
                id, j,
                job_outcome::failure("timed out after " + std::to_string(options.timeout.count()) + " ms"));
        }
        for (auto id : released_ids) release(conn, id);
    }

    void release(queue::amqp_connection& conn, std::uint64_t id) {
        const in_flight& j = jobs.at(id);
        spdlog::warn(
            "job {} not started within {} ms of its delivery: every handler thread is busy ({} past "
            "their stop); released to the queue",
            j.uuid, options.timeout.count(), stopped.running());
        if (int rc = amqp_basic_reject(conn.state(), consume_channel, j.delivery_tag, 1);
            rc != AMQP_STATUS_OK)
            throw amqp_error("broker " + conn.where() + ": basic.reject failed: " + amqp_error_string2(rc));
        stats.released.fetch_add(1);
        jobs.erase(id);
    }

    // A handler asked to stop that is still running a second later ignores its stop: its thread
    // is given up for as long as it runs (logged once; the job itself was failed already).
    void check_abandoned(clock::time_point now) {
        for (const auto& uuid : stopped.abandoned(now)) {
            stats.abandoned.fetch_add(1);
            spdlog::warn(
                "the handler of job {} ignores its stop: abandoned, its thread stays busy until it "
                "returns",
                uuid);
        }
    }

    void handler_returned(std::uint64_t id) {
        const std::string uuid = stopped.uuid(id);
        if (stopped.returned(id)) spdlog::info("the abandoned handler of job {} returned", uuid);
    }

    static event_fields fields(model::job_status status) {
        event_fields f;
        f.status = status;
        return f;
    }

    void enqueue(std::uint64_t id, const in_flight& j, event_fields f) {
        f.uuid = j.uuid;
        f.worker = worker_id;
        f.at_ms = model::now_ms();
        pending.push_back({id, make_status_event(options.job_type, f, model::new_uuid())});
    }

    // A progress event still waiting to be sent is updated instead of queueing another.
    void enqueue_progress(std::uint64_t id, const in_flight& j, int percent) {
        event_fields f = fields(model::job_status::in_progress);
        f.uuid = j.uuid;
        f.progress = percent;
        f.worker = worker_id;
        f.at_ms = model::now_ms();
        for (auto& p : pending)
            if (p.job_id == id && p.event.status == "IN_PROGRESS") {
                p.event = make_status_event(options.job_type, f, std::move(p.event.message_id));
                return;
            }
        pending.push_back({id, make_status_event(options.job_type, f, model::new_uuid())});
    }

    // ---- events and confirms ---------------------------------------------------------------

    bool publish_pending(queue::amqp_connection& conn) {
        bool any = false;
        while (!pending.empty() && tracker.outstanding() < options.confirm_window) {
            pending_event pe = std::move(pending.front());
            pending.pop_front();
            const status_event& e = pe.event;
            amqp_basic_properties_t props{};
            props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                           AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
            props.content_type = amqp_cstring_bytes("application/json");
            props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
            props.message_id = bytes(e.message_id);
            props.type = bytes(e.status);
            props.timestamp = static_cast<std::uint64_t>(e.at_ms / 1000);
            // Mandatory: with nothing bound to the events exchange the event comes back (a return
            // before its ack) instead of vanishing, and its job is not acked.
            const int rc =
                amqp_basic_publish(conn.state(), event_channel, bytes(options.amqp.events_exchange),
                                   bytes(e.routing_key), 1, 0, &props, bytes(e.body));
            if (rc != AMQP_STATUS_OK)
                throw amqp_error("broker " + conn.where() +
                                 ": publishing an event failed: " + amqp_error_string2(rc));
            stats.events_published.fetch_add(1);
            tracker.on_publish({e.message_id, e.routing_key, {}, e.at_ms});
            if (e.terminal) terminal_unconfirmed.emplace(e.message_id, std::move(pe));
            any = true;
        }
        return any;
    }

    void settle(queue::amqp_connection& conn, queue::confirm_tracker::settled s) {
        for (const auto& m : s.confirmed) {
            stats.events_confirmed.fetch_add(1);
            auto t = terminal_unconfirmed.find(m.uuid);
            if (t == terminal_unconfirmed.end()) continue;
            const std::uint64_t id = t->second.job_id;
            terminal_unconfirmed.erase(t);
            auto j = jobs.find(id);
            if (j == jobs.end()) continue;
            // The terminal event is safe with the broker: now the job may leave the queue.
            if (int rc = amqp_basic_ack(conn.state(), consume_channel, j->second.delivery_tag, 0);
                rc != AMQP_STATUS_OK)
                throw amqp_error("broker " + conn.where() + ": basic.ack failed: " + amqp_error_string2(rc));
            stats.acked.fetch_add(1);
            jobs.erase(j);
        }
        const auto due = clock::now() + options.amqp.retry_delay;
        for (const auto& m : s.failed) {
            stats.events_nacked.fetch_add(1);
            auto t = terminal_unconfirmed.find(m.uuid);
            if (t == terminal_unconfirmed.end()) continue;  // progress: the next one supersedes it
            spdlog::warn("the {} event of job {} was nacked or returned; sending it again in {} ms",
                         t->second.event.status,
                         jobs.count(t->second.job_id) ? jobs[t->second.job_id].uuid : "?",
                         options.amqp.retry_delay.count());
            retry.emplace_back(due, std::move(t->second));
            terminal_unconfirmed.erase(t);
        }
    }

    // The connection is gone (or closing): the broker redelivers what was not acked.
    void lose_in_flight() {
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

    const worker_options options;
    job_handler& handler;
    const std::string worker_id;
    const std::string queue_name;
    worker_stats stats;
    std::atomic<int> stop_requests{0};
    report_mailbox mailbox;
    job_pool pool;  // after the mailbox: its tasks report to it, so it must be destroyed first
    queue::amqp_session session;

    // Connection thread only.
    std::uint64_t connections = 0;
    std::uint64_t next_job_id = 1;
    std::unordered_map<std::uint64_t, in_flight> jobs;
    std::deque<pending_event> pending;                                    // events not yet sent
    std::deque<std::pair<clock::time_point, pending_event>> retry;        // nacked terminal events
    queue::confirm_tracker tracker;                                       // events sent, unconfirmed
    std::unordered_map<std::string, pending_event> terminal_unconfirmed;  // by event message_id
    std::string consumer_tag;
    bool cancel_sent = false;
    bool blocked = false;    // between connection.blocked and unblocked: nothing is published
    bool redeclare = false;  // an event came back unroutable
    std::optional<clock::time_point> grace_deadline;
    stopped_handlers stopped;  // timed-out handlers still running; survives reconnects
};

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

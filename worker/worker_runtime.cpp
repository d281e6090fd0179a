// One connection, two channels: channel 1 consumes (basic.qos prefetch = concurrency, manual
// acks), channel 2 is in confirm mode and carries only status events. Keeping them apart means
// every basic.ack/nack the broker sends is a confirm of channel 2's publish sequence, and the
// consumer's prefetch and delivery tags are never mixed with it. Any channel or connection
// error drops the whole connection: jobs in flight are then redelivered by the broker and their
// late results are dropped here (each delivery has an id that dies with the connection).
#include "worker/worker_runtime.hpp"

#include <poll.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <optional>
#include <stop_token>
#include <unordered_map>

#include "model/clock.hpp"
#include "model/uuid.hpp"
#include "queue/amqp_connection.hpp"
#include "queue/confirm_tracker.hpp"
#include "queue/topology.hpp"
#include "worker/job_input.hpp"
#include "worker/job_pool.hpp"
#include "worker/report_mailbox.hpp"
#include "worker/status_event.hpp"

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

// Posts a job's progress to the mailbox, skipping repeats of the last value.
class mailbox_progress final : public progress_reporter {
  public:
    mailbox_progress(report_mailbox& box, std::uint64_t job_id) : box_(box), job_id_(job_id) {}
    void report(int percent) override {
        percent = std::clamp(percent, 0, 100);
        if (percent == last_) return;
        last_ = percent;
        box_.push({job_id_, job_report::kind::progress, percent, {}});
    }

  private:
    report_mailbox& box_;
    std::uint64_t job_id_;
    int last_ = -1;
};

}  // namespace

struct worker_runtime::impl {
    // A delivery being worked on, from basic.deliver until its basic.ack.
    struct in_flight {
        std::uint64_t delivery_tag = 0;
        std::string uuid;
        std::stop_source stop;
        clock::time_point received;
        std::optional<clock::time_point> deadline;  // set at STARTED: --timeout-ms from then
        bool terminal = false;  // SUCCESS/FAILED made: later reports of the handler are dropped
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
          pool(options.concurrency, 4 * std::size_t{options.concurrency}) {}

    // ---- connection loop -------------------------------------------------------------------

    bool run() {
        auto backoff = options.amqp.reconnect_min;
        std::size_t url = 0;
        bool first = true;
        while (stop_requests.load() == 0) {
            try {
                queue::amqp_connection conn(options.amqp.urls[url], options.amqp.connect_timeout,
                                            options.amqp.heartbeat_s);
                setup(conn);
                if (!first) stats.reconnects.fetch_add(1);
                first = false;
                backoff = options.amqp.reconnect_min;
                spdlog::info("broker {} connected; consuming {} with prefetch {}", conn.where(), queue_name,
                             options.concurrency);
                serve(conn);
                lose_in_flight();
                break;  // serve() returns only when stopping
            } catch (const std::exception& e) {
                lose_in_flight();
                if (stop_requests.load() > 0) {
                    spdlog::warn("{}; stopping", e.what());
                    break;
                }
                spdlog::warn("{}; retrying in {} ms", e.what(), backoff.count());
                url = (url + 1) % options.amqp.urls.size();
                sleep_unless_stopped(backoff);
                backoff = std::min(backoff * 2, options.amqp.reconnect_max);
            }
        }
        // Every job was told to stop; give handlers a moment to notice.
        return pool.wait_idle(std::chrono::seconds(2));
    }

    void setup(queue::amqp_connection& conn) {
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
    }

    void serve(queue::amqp_connection& conn) {
        for (;;) {
            const auto now = clock::now();
            if (stop_requests.load() > 0) {
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
                    return;
                }
                if (now >= *grace_deadline || stop_requests.load() > 1) {
                    spdlog::warn("stopping now: {} job(s) unfinished, the broker will redeliver them",
                                 jobs.size());
                    return;
                }
            }
            while (!retry.empty() && retry.front().first <= now) {
                pending.push_front(std::move(retry.front().second));
                retry.pop_front();
            }
            apply_reports();
            check_timeouts(now);
            const bool sent = publish_pending(conn);
            const bool read = read_frames(conn);
            if (!sent && !read) wait(conn);
        }
    }

    // ---- jobs ------------------------------------------------------------------------------

    void on_delivery(queue::amqp_connection& conn, std::uint64_t tag, bool redelivered, std::string body) {
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
        spdlog::debug("job {} received (delivery {}{})", j.uuid, tag, redelivered ? ", redelivered" : "");
        if (!pool.post([this, id, job, token = j.stop.get_token()] { run_job(id, *job, token); })) {
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
        if (token.stop_requested()) return;  // lost with its connection before it began
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
        if (token.stop_requested()) return;  // timed out, lost or abandoned: nobody wants it
        mailbox.push({id, job_report::kind::finished, 0, std::move(outcome)});
    }

    void apply_reports() {
        for (auto& r : mailbox.take()) {
            auto it = jobs.find(r.job_id);
            if (it == jobs.end() || it->second.terminal) continue;  // late: dropped
            in_flight& j = it->second;
            switch (r.what) {
                case job_report::kind::started:
                    j.deadline = clock::now() + options.timeout;
                    enqueue(r.job_id, j, fields(model::job_status::started));
                    break;
                case job_report::kind::progress:
                    enqueue_progress(r.job_id, j, r.progress);
                    break;
                case job_report::kind::finished:
                    finish(r.job_id, j, std::move(r.outcome));
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

    void check_timeouts(clock::time_point now) {
        for (auto& [id, j] : jobs) {
            if (j.terminal || !j.deadline || now < *j.deadline) continue;
            j.stop.request_stop();
            stats.timed_out.fetch_add(1);
            finish(
                id, j,
                job_outcome::failure("timed out after " + std::to_string(options.timeout.count()) + " ms"));
        }
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
            // Not mandatory: with nobody bound to the events exchange an event is dropped, and a
            // worker must not stall its queue for that.
            const int rc =
                amqp_basic_publish(conn.state(), event_channel, bytes(options.amqp.events_exchange),
                                   bytes(e.routing_key), 0, 0, &props, bytes(e.body));
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
            spdlog::warn("broker nacked the {} event of job {}; sending it again", t->second.event.status,
                         jobs.count(t->second.job_id) ? jobs[t->second.job_id].uuid : "?");
            retry.emplace_back(due, std::move(t->second));
            terminal_unconfirmed.erase(t);
        }
    }

    // Reads every frame already available; true when at least one was read.
    bool read_frames(queue::amqp_connection& conn) {
        const auto state = conn.state();
        bool any = false;
        for (;;) {
            amqp_frame_t frame;
            timeval zero{0, 0};
            const int rc = amqp_simple_wait_frame_noblock(state, &frame, &zero);
            if (rc == AMQP_STATUS_TIMEOUT) break;
            if (rc != AMQP_STATUS_OK)
                throw amqp_error("broker " + conn.where() + ": connection lost: " + amqp_error_string2(rc));
            any = true;
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;
            switch (frame.payload.method.id) {
                case AMQP_BASIC_DELIVER_METHOD: {
                    const auto* d = static_cast<amqp_basic_deliver_t*>(frame.payload.method.decoded);
                    const std::uint64_t tag = d->delivery_tag;
                    const bool redelivered = d->redelivered != 0;
                    // Header and body frames follow; frames of other channels read meanwhile
                    // are queued by rabbitmq-c and come out of the next wait_frame call.
                    amqp_message_t message;
                    conn.check(amqp_read_message(state, frame.channel, &message, 0), "reading a delivery");
                    std::string body(static_cast<const char*>(message.body.bytes), message.body.len);
                    amqp_destroy_message(&message);
                    on_delivery(conn, tag, redelivered, std::move(body));
                    break;
                }
                case AMQP_BASIC_ACK_METHOD: {
                    const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
                    settle(conn, tracker.on_ack(ack->delivery_tag, ack->multiple != 0));
                    break;
                }
                case AMQP_BASIC_NACK_METHOD: {
                    const auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
                    settle(conn, tracker.on_nack(nack->delivery_tag, nack->multiple != 0));
                    break;
                }
                case AMQP_BASIC_CANCEL_OK_METHOD:
                    spdlog::debug("consumer cancel confirmed");
                    break;
                case AMQP_BASIC_CANCEL_METHOD:
                    // The broker ended the consumer (queue deleted, or a node lost): start over,
                    // which declares the queue again.
                    throw amqp_error("broker " + conn.where() + " cancelled the consumer of " + queue_name);
                case AMQP_BASIC_RETURN_METHOD: {
                    amqp_message_t message;  // events are not mandatory; read and drop anyway
                    conn.check(amqp_read_message(state, frame.channel, &message, 0),
                               "reading a returned message");
                    amqp_destroy_message(&message);
                    break;
                }
                case AMQP_CHANNEL_CLOSE_METHOD: {
                    const auto* close = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
                    throw amqp_error("broker " + conn.where() + " closed channel " +
                                     std::to_string(frame.channel) + ": " +
                                     std::to_string(close->reply_code) + " " + text(close->reply_text));
                }
                case AMQP_CONNECTION_CLOSE_METHOD: {
                    const auto* close = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
                    const std::string why = std::to_string(close->reply_code) + " " + text(close->reply_text);
                    amqp_connection_close_ok_t ok{};
                    amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
                    throw amqp_error("broker " + conn.where() + " closed the connection: " + why);
                }
                default:
                    break;  // e.g. connection.blocked: confirms simply come later
            }
        }
        if (!amqp_frames_enqueued(state)) amqp_maybe_release_buffers(state);
        return any;
    }

    // Sleeps until the socket or the mailbox is readable, or the next deadline (job timeout,
    // grace, retry), at most 200 ms so heartbeats are serviced.
    void wait(queue::amqp_connection& conn) {
        if (amqp_frames_enqueued(conn.state()) || amqp_data_in_buffer(conn.state())) return;
        auto until = clock::now() + std::chrono::milliseconds(200);
        for (const auto& [id, j] : jobs)
            if (!j.terminal && j.deadline) until = std::min(until, *j.deadline);
        if (grace_deadline && cancel_sent) until = std::min(until, *grace_deadline);
        if (!retry.empty()) until = std::min(until, retry.front().first);
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
        pollfd fds[2] = {{conn.fd(), POLLIN, 0}, {mailbox.fd(), POLLIN, 0}};
        if (::poll(fds, 2, static_cast<int>(std::max<std::int64_t>(left, 0) + 1)) > 0 &&
            (fds[1].revents & POLLIN))
            mailbox.drain_fd();
    }

    void sleep_unless_stopped(std::chrono::milliseconds d) {
        const auto until = clock::now() + d;
        while (stop_requests.load() == 0) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
            if (left <= 0) return;
            pollfd f{mailbox.fd(), POLLIN, 0};
            if (::poll(&f, 1, static_cast<int>(left)) > 0) mailbox.drain_fd();
            mailbox.take();  // reports of jobs lost with the connection: nobody wants them
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
    }

    const worker_options options;
    job_handler& handler;
    const std::string worker_id;
    const std::string queue_name;
    worker_stats stats;
    std::atomic<int> stop_requests{0};
    report_mailbox mailbox;
    job_pool pool;  // after the mailbox: its tasks report to it, so it must be destroyed first

    // Connection thread only.
    std::uint64_t next_job_id = 1;
    std::unordered_map<std::uint64_t, in_flight> jobs;
    std::deque<pending_event> pending;                                    // events not yet sent
    std::deque<std::pair<clock::time_point, pending_event>> retry;        // nacked terminal events
    queue::confirm_tracker tracker;                                       // events sent, unconfirmed
    std::unordered_map<std::string, pending_event> terminal_unconfirmed;  // by event message_id
    std::string consumer_tag;
    bool cancel_sent = false;
    std::optional<clock::time_point> grace_deadline;
};

worker_runtime::worker_runtime(worker_options options, job_handler& handler, std::string worker_id)
    : impl_(std::make_unique<impl>(std::move(options), handler, std::move(worker_id))) {
    if (impl_->options.amqp.urls.empty()) throw std::invalid_argument("at least one broker URL is needed");
}

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

// Inside worker_runtime: the connection thread's state and its steps, shared by
// worker_runtime.cpp (the session: connecting, channels, the control stream, stopping) and
// runtime_jobs.cpp (jobs and their status events). Not for use elsewhere.
//
// One connection, three channels: channel 1 consumes jobs (basic.qos prefetch = concurrency,
// manual acks), channel 2 is in confirm mode and carries only status events (published
// mandatory; several to a message for jobs of contract 3), channel 3 reads
// the type's control stream (cancel requests). Keeping them apart means every basic.ack/nack the
// broker sends is a confirm of channel 2's publish sequence, and no prefetch or delivery tag is
// shared. Any channel or connection error drops the whole connection: jobs in flight are then
// redelivered by the broker and their late results are dropped here (each delivery has an id
// that dies with the connection).
//
// Thread safety: everything below belongs to the connection thread, except `stop_requests`,
// `mailbox` and `pool` (thread-safe by construction) and `stats` (atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "queue/amqp_connection.hpp"
#include "queue/amqp_session.hpp"
#include "queue/confirm_tracker.hpp"
#include "worker/cancel_memory.hpp"
#include "worker/job_pool.hpp"
#include "worker/report_mailbox.hpp"
#include "worker/status_event.hpp"
#include "worker/stopped_handlers.hpp"
#include "worker/worker_runtime.hpp"

namespace jobsd::worker {

inline constexpr amqp_channel_t consume_channel = queue::amqp_connection::channel;  // opened with it
inline constexpr amqp_channel_t event_channel = 2;
inline constexpr amqp_channel_t control_channel = 3;

struct worker_runtime::impl final : queue::amqp_session_user {
    using clock = std::chrono::steady_clock;

    // Where a job stands between the connection thread and the pool, decided by one
    // compare-and-swap from `waiting`: a pool thread that takes the job moves it to `running`;
    // the connection thread that cancels or releases it before that moves it to `withdrawn`, and
    // the pool thread then never starts it. So a job waiting for a thread is ended at once.
    enum class phase : int { waiting, running, withdrawn };
    using shared_phase = std::shared_ptr<std::atomic<phase>>;

    // A delivery being worked on, from basic.deliver until its basic.ack.
    struct in_flight {
        std::uint64_t delivery_tag = 0;
        std::string uuid;
        int attempt = 1;
        std::stop_source stop;
        clock::time_point received;
        clock::time_point deadline;  // --timeout-ms from the delivery
        shared_phase at;             // shared with the pool task
        // Cancelled while held: CANCELLED is reported once the handler returns, or at this
        // time (kill grace + 2 s) if it does not.
        std::optional<clock::time_point> cancel_deadline;
        bool terminal = false;  // a terminal event made: later reports of the handler are dropped
        // The job message's trace continued with this delivery's own span ("" when the message
        // had no valid traceparent: no trace is started), put on every event of the job.
        std::string traceparent;
        std::string trace_id;    // for log lines; "" without a trace
        bool batchable = false;  // the message was of contract 3 or later: its events may share messages
    };
    struct pending_event {
        std::uint64_t job_id;
        status_event event;
        bool batchable = false;      // from in_flight::batchable
        clock::time_point queued{};  // when it was made: it waits at most options.event_linger
    };

    impl(worker_options o, job_handler& h, std::string id);

    bool run();

    // ---- the session's callbacks (worker_runtime.cpp)
    void on_connected(queue::amqp_connection& conn) override;
    void on_disconnected(std::string_view why) override;
    bool stopping() const override { return stop_requests.load() > 0; }
    queue::amqp_step step(queue::amqp_connection& conn, clock::time_point now) override;
    void on_delivery(queue::amqp_connection& conn, const queue::amqp_delivery& d) override;
    void on_confirm(queue::amqp_connection& conn, const queue::amqp_confirm& c) override;
    void on_return(queue::amqp_connection& conn, const queue::amqp_returned& r) override;
    void on_flow(queue::amqp_connection& conn, bool now_blocked, std::string_view reason) override;
    bool stop_step(queue::amqp_connection& conn, clock::time_point now);
    clock::time_point next_deadline() const;
    void consume_control(queue::amqp_connection& conn);
    void take_control(queue::amqp_connection& conn, const queue::amqp_delivery& d);

    // ---- jobs and events (runtime_jobs.cpp)
    void take_delivery(queue::amqp_connection& conn, std::uint64_t tag, bool redelivered, std::string body,
                       std::string_view traceparent);
    // On a pool thread.
    void run_job(std::uint64_t id, const job_input& job, std::stop_token token, const shared_phase& at);
    // Waiting → withdrawn: true when the job had not been taken by a pool thread (it never will be).
    static bool withdraw(const in_flight& j);
    void apply_reports();
    void finish(std::uint64_t id, in_flight& j, job_outcome outcome);
    // Ends a job that is not run to its end: CANCELLED or EXPIRED, with why.
    void end_unrun(std::uint64_t id, in_flight& j, model::job_status status, std::string why);
    // A cancel of `attempt` (or a later one) of `uuid`: stops the job if it is held here.
    void cancel_held(const std::string& uuid, int attempt, clock::time_point now);
    void check_timeouts(queue::amqp_connection& conn, clock::time_point now);
    // Back to the queue: a job not started within its timeout (every handler thread busy).
    void release(queue::amqp_connection& conn, std::uint64_t id);
    // Stopping: every job no pool thread has taken goes back to the queue now, for another
    // worker, instead of waiting here for a thread during the grace; returns how many.
    std::size_t hand_back_waiting(queue::amqp_connection& conn);
    // Back to the queue (basic.reject, requeue) and forgotten here.
    void requeue(queue::amqp_connection& conn, std::uint64_t id);
    void check_abandoned(clock::time_point now);
    void handler_returned(std::uint64_t id);
    void enqueue(std::uint64_t id, const in_flight& j, event_fields f);
    void enqueue_progress(std::uint64_t id, const in_flight& j, int percent);
    bool publish_pending(queue::amqp_connection& conn, clock::time_point now);
    // How many events from the front of `pending` go in the next message; 0 when the ones there
    // may still wait for others (their linger is not over and the batch not full).
    std::size_t next_message_size(clock::time_point now) const;
    void publish(queue::amqp_connection& conn, const status_event& e);
    void settle(queue::amqp_connection& conn, queue::confirm_tracker::settled s);
    void ack(queue::amqp_connection& conn, std::vector<std::uint64_t> tags);
    void lose_in_flight();

    const worker_options options;
    job_handler& handler;
    const std::string worker_id;
    const std::string queue_name;
    const std::string control_queue;
    worker_stats stats;
    std::atomic<int> stop_requests{0};
    report_mailbox mailbox;
    job_pool pool;  // after the mailbox: its tasks report to it, so it must be destroyed first
    queue::amqp_session session;

    // Connection thread only.
    std::uint64_t connections = 0;
    std::uint64_t next_job_id = 1;
    std::unordered_map<std::uint64_t, in_flight> jobs;
    std::deque<pending_event> pending;                              // events not yet sent
    std::deque<std::pair<clock::time_point, pending_event>> retry;  // nacked terminal events
    queue::confirm_tracker tracker;                                 // events sent, unconfirmed
    // The terminal events of each unconfirmed message, by its message_id.
    std::unordered_map<std::string, std::vector<pending_event>> terminal_unconfirmed;
    cancel_memory cancels;
    std::string consumer_tag;
    bool cancel_sent = false;
    bool blocked = false;    // between connection.blocked and unblocked: nothing is published
    bool redeclare = false;  // an event came back unroutable
    std::optional<clock::time_point> grace_deadline;
    stopped_handlers stopped;  // stopped handlers still running; survives reconnects
};

}  // namespace jobsd::worker

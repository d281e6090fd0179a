// Broker settings: where to connect, the topology to declare and the publisher's bounds.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/job_type.hpp"

namespace jobsd::queue {

// Which of several broker URLs a process tries first (see amqp_options::url_order).
enum class amqp_url_order { spread, in_order };

// "spread" or "in_order"; nullopt for anything else.
inline std::optional<amqp_url_order> parse_url_order(std::string_view text) {
    if (text == "spread") return amqp_url_order::spread;
    if (text == "in_order") return amqp_url_order::in_order;
    return std::nullopt;
}

struct amqp_options {
    // Publishing on/off. Off keeps every job in the outbox (nothing is lost; nothing is sent).
    bool enabled = true;
    // Broker URLs tried in turn (a cluster's nodes): amqp://user:pass@host:port/vhost.
    std::vector<std::string> urls = {"amqp://guest:guest@127.0.0.1:5673/"};
    // Where in `urls` a connection starts. spread (default): at a random URL, so many jobsd and
    // workers given the same list spread over a cluster's nodes instead of all loading the first;
    // in_order: always at the first (a preferred node). Either way the next URL in turn after
    // each failure, wrapping around.
    amqp_url_order url_order = amqp_url_order::spread;
    // Direct exchange the jobs are published to, routing key = job type.
    std::string exchange = "jobs";
    // Per-type queues are named <queue_prefix><job_type>.
    std::string queue_prefix = "jobs.";
    // Dead-letter exchange and the prefix of its per-type queues (<dead_prefix><job_type>).
    std::string dead_exchange = "jobs.dead";
    std::string dead_queue_prefix = "jobs.dead.";
    // Topic exchange for status events (routing key <job_type>.<status>).
    std::string events_exchange = "jobs.events";
    // Topic exchange for control messages (cancel requests), routing key <job_type>.<kind>, and the
    // prefix of the stream per type bound to it with "<type>.#" (<control_queue_prefix><type>).
    // A stream, not a queue per worker: every worker process of the type reads it, including
    // one that starts or reconnects after a cancel was sent (it reads back control_retention).
    std::string control_exchange = "jobs.control";
    std::string control_queue_prefix = "jobs.control.";
    // How long a control stream keeps messages (x-max-age), and how far back a worker reads at
    // connect. An hour covers any restart or reconnect; cancels are a few hundred bytes each.
    // Workers and jobsd must agree (the streams are declared by both).
    std::chrono::seconds control_retention{3600};
    // Control messages read from the store per query, and how often the control publisher looks
    // for ones written by other instances or by jobsctl (its own are sent at once).
    std::size_t control_batch = 256;
    std::chrono::milliseconds control_poll_interval{1'000};
    // jobsd's own durable queue of status events, bound to events_exchange with "#". Several
    // jobsd instances share it (applying an event is idempotent).
    std::string events_queue = "jobsd.events";
    // Fanout exchange through which instances sharing a PostgreSQL store pass each other the live
    // events of the session streams (queue/status_relay.hpp); "" turns the relay off.
    std::string status_exchange = "jobsd.status";
    // Events applied per store transaction, and how long a partial batch may wait.
    std::size_t event_batch = 512;
    std::chrono::milliseconds event_batch_wait{20};
    // "quorum" (replicated, the default) or "classic".
    std::string queue_type = "quorum";
    // Deliveries of one message before it is dead-lettered (quorum queues have no limit unless
    // one is set, so a poison job would loop forever).
    unsigned delivery_limit = 5;
    // The job types that get a queue; every type the API accepts should be here.
    std::vector<std::string> job_types = [] {
        std::vector<std::string> v;
        for (auto t : model::all_job_types) v.emplace_back(model::to_string(t));
        return v;
    }();
    // Publishes awaiting a confirm at once. Bounds memory and the work redone after a reconnect.
    std::size_t confirm_window = 512;
    // Jobs handed over by the server and not yet sent (the publisher's mailbox and its send
    // queue each hold at most this many). Past it they stay in the outbox and the relay sends
    // them later: ingestion never waits for the broker, and memory does not grow with a backlog.
    // 8192 jobs is under a second at full rate and about 20 MB at most.
    std::size_t publish_queue_max = 8192;
    // Jobs read from the outbox per relay query. The send queue holds relayed jobs apart from
    // handed-over ones (at most two pages), so a sweep always gets its share of the confirm
    // window, older jobs first, even while the mailbox is full.
    std::size_t relay_batch = 512;
    // A full outbox scan at least this often, as a safety net for any job the fast path missed.
    std::chrono::milliseconds relay_interval{30'000};
    // A job type whose message the broker nacked or returned is paused this long at first (its
    // jobs wait in the outbox; a sweep sends them when the pause ends), doubling up to
    // type_pause_max while it keeps failing. Also the wait before an outbox read that failed is
    // tried again.
    std::chrono::milliseconds retry_delay{1'000};
    // The longest pause of a failing job type: how soon a queue that was deleted and declared
    // again, or a full queue that drained, gets its jobs, against one message per pause to a
    // broker that refuses them. 10 s.
    std::chrono::milliseconds type_pause_max{10'000};
    // A send (publish, ack) the broker does not take within this is a lost connection: the
    // socket is shut down and the session reconnects. Bounds a publish blocked on a full socket
    // while the broker has stopped reading (a resource alarm), and so the wait of a stop.
    std::chrono::milliseconds send_timeout{10'000};
    // Reconnect backoff: doubles from min to max between failed attempts.
    std::chrono::milliseconds reconnect_min{200};
    std::chrono::milliseconds reconnect_max{5'000};
    // TCP connect and AMQP handshake deadline.
    std::chrono::milliseconds connect_timeout{5'000};
    // AMQP heartbeat in seconds; a dead broker is noticed within about twice this.
    unsigned heartbeat_s = 10;
    // The RabbitMQ management API (http://user:pass@host:port/), read by GET /api/queues and the
    // dashboard for ready and unacked messages and consumers per queue, with an async HTTP
    // client so no io thread ever waits on the broker. "" (the plugin is optional on a broker),
    // or a failed read, falls back to passive queue.declare on a thread of its own, which
    // knows ready messages and consumers but not unacked ones.
    std::string management_url;
    // Deadline of one read of the management API, and of the fallback's connect and each of its
    // calls; past it the queue view answers 503.
    std::chrono::milliseconds management_timeout{2'000};
    // How long one read of the queue view is reused: the broker is asked at most once per this.
    std::chrono::milliseconds queue_view_cache{1'000};
};

}  // namespace jobsd::queue

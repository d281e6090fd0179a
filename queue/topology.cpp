// Dead-letter queues are declared with the same queue type as the job queues; control streams are
// streams whatever the queue type. Declarations run on channel `declare_channel`, apart from the
// channels users publish and consume on.
#include "queue/topology.hpp"

#include <spdlog/spdlog.h>

namespace jobsd::queue {

namespace {

constexpr amqp_channel_t declare_channel = 9;

// Stream segments of 1 MiB: retention drops whole segments, so small ones make x-max-age hold
// closely (the default, 500 MB, would keep every cancel for ever on a quiet system).
constexpr std::int64_t control_segment_bytes = 1 << 20;

}  // namespace

amqp_arguments job_queue_arguments(const amqp_options& o, const std::string& type) {
    amqp_arguments args;
    args.add("x-queue-type", o.queue_type)
        .add("x-dead-letter-exchange", o.dead_exchange)
        .add("x-dead-letter-routing-key", type);
    // Quorum queues only: classic queues have no delivery limit and dead-letter at most once.
    // At-least-once dead-lettering keeps a message in its queue until the dead-letter queue has
    // confirmed it (so a job is never lost while that queue has no leader), and RabbitMQ takes it
    // only with overflow reject-publish. Expired messages (per-message TTL) dead-letter the same way.
    if (o.queue_type == "quorum")
        args.add("x-delivery-limit", static_cast<std::int64_t>(o.delivery_limit))
            .add("x-dead-letter-strategy", std::string("at-least-once"))
            .add("x-overflow", std::string("reject-publish"));
    return args;
}

topology_report declare_topology(amqp_connection& conn, const amqp_options& o) {
    const auto ch = declare_channel;
    topology_report report;
    // A queue that exists with other arguments (an older jobsd's, or before a setting such as
    // amqp.queue_type or amqp.control_retention_s changed) is kept as it is and reported.
    const auto declare = [&](const std::string& queue, amqp_arguments args, std::string_view after) {
        if (auto why = conn.declare_queue_or_keep(queue, args, ch)) {
            spdlog::warn("queue {} exists with other arguments ({}): kept as it is{}", queue, *why, after);
            report.kept.push_back({queue, std::move(*why)});
        }
    };
    conn.open_channel(ch);
    conn.declare_exchange(o.exchange, "direct", ch);
    conn.declare_exchange(o.dead_exchange, "direct", ch);
    conn.declare_exchange(o.events_exchange, "topic", ch);
    // jobsd's events queue is part of the topology, declared by whoever connects first: a worker
    // may only publish events after jobsd published a job, and by then the queue is bound, so no
    // status event is ever published to an exchange with nothing behind it.
    amqp_arguments events_args;
    events_args.add("x-queue-type", o.queue_type);
    declare(o.events_queue, events_args, "");
    conn.bind_queue(o.events_queue, o.events_exchange, "#", ch);
    conn.declare_exchange(o.control_exchange, "topic", ch);
    for (const auto& type : o.job_types) {
        amqp_arguments control_args;
        control_args.add("x-queue-type", "stream")
            .add("x-max-age", std::to_string(o.control_retention.count()) + "s")
            .add("x-stream-max-segment-size-bytes", control_segment_bytes);
        declare(o.control_queue_prefix + type, control_args, "");
        conn.bind_queue(o.control_queue_prefix + type, o.control_exchange, type + ".#", ch);

        amqp_arguments dead_args;
        dead_args.add("x-queue-type", o.queue_type);
        declare(o.dead_queue_prefix + type, dead_args, "");
        conn.bind_queue(o.dead_queue_prefix + type, o.dead_exchange, type, ch);

        const std::string queue = o.queue_prefix + type;
        declare(queue, job_queue_arguments(o, type),
                ", so its dead-lettering may be at most once; apply the policy of the README (How a job "
                "is kept) to migrate it");
        conn.bind_queue(queue, o.exchange, type, ch);
    }
    conn.close_channel(ch);
    return report;
}

}  // namespace jobsd::queue

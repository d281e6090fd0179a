// Dead-letter queues are declared with the same queue type as the job queues; control streams are
// streams whatever the queue type.
#include "queue/topology.hpp"

namespace jobsd::queue {

namespace {

// Stream segments of 1 MiB: retention drops whole segments, so small ones make x-max-age hold
// closely (the default, 500 MB, would keep every cancel for ever on a quiet system).
constexpr std::int64_t control_segment_bytes = 1 << 20;

}  // namespace

void declare_topology(amqp_connection& conn, const amqp_options& o) {
    conn.declare_exchange(o.exchange, "direct");
    conn.declare_exchange(o.dead_exchange, "direct");
    conn.declare_exchange(o.events_exchange, "topic");
    // jobsd's events queue is part of the topology, declared by whoever connects first: a worker
    // may only publish events after jobsd published a job, and by then the queue is bound, so no
    // status event is ever published to an exchange with nothing behind it.
    amqp_arguments events_args;
    events_args.add("x-queue-type", o.queue_type);
    conn.declare_queue(o.events_queue, events_args);
    conn.bind_queue(o.events_queue, o.events_exchange, "#");
    conn.declare_exchange(o.control_exchange, "topic");
    for (const auto& type : o.job_types) {
        amqp_arguments control_args;
        control_args.add("x-queue-type", "stream")
            .add("x-max-age", std::to_string(o.control_retention.count()) + "s")
            .add("x-stream-max-segment-size-bytes", control_segment_bytes);
        conn.declare_queue(o.control_queue_prefix + type, control_args);
        conn.bind_queue(o.control_queue_prefix + type, o.control_exchange, type + ".#");

        amqp_arguments dead_args;
        dead_args.add("x-queue-type", o.queue_type);
        conn.declare_queue(o.dead_queue_prefix + type, dead_args);
        conn.bind_queue(o.dead_queue_prefix + type, o.dead_exchange, type);

        amqp_arguments args;
        args.add("x-queue-type", o.queue_type)
            .add("x-dead-letter-exchange", o.dead_exchange)
            .add("x-dead-letter-routing-key", type);
        // Classic queues have no delivery limit; the argument is only for quorum queues.
        if (o.queue_type == "quorum")
            args.add("x-delivery-limit", static_cast<std::int64_t>(o.delivery_limit));
        conn.declare_queue(o.queue_prefix + type, args);
        conn.bind_queue(o.queue_prefix + type, o.exchange, type);
    }
}

}  // namespace jobsd::queue

// Dead-letter queues are declared with the same queue type as the job queues.
#include "queue/topology.hpp"

namespace jobsd::queue {

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
    for (const auto& type : o.job_types) {
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

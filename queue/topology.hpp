// The exchanges and queues of the design, declared idempotently at every (re)connect.
#pragma once

#include <string>
#include <vector>

#include "queue/amqp_connection.hpp"
#include "queue/amqp_options.hpp"

namespace jobsd::queue {

// What a declaration found: the job queues that exist with other arguments than these (declared
// by an older jobsd or worker), kept as they are, with the broker's reason.
struct topology_report {
    struct kept_queue {
        std::string queue;
        std::string reason;
    };
    std::vector<kept_queue> kept;
};

// Declares, on a channel of its own (opened and closed here, so a refused declaration never
// closes a channel its caller uses): direct exchange `exchange`; per job type a durable queue
// <queue_prefix><type> bound with routing key = type, dead-lettering to `dead_exchange` with the
// type as routing key (quorum by default: with x-delivery-limit, at-least-once dead-lettering
// and x-overflow reject-publish, which at-least-once needs); direct `dead_exchange` with a queue
// per type; topic `events_exchange` with jobsd's durable `events_queue` bound with "#"; topic
// `control_exchange` with a stream per type (<control_queue_prefix><type>, x-max-age =
// control_retention) bound with "<type>.#".
//
// A queue that exists with other arguments (406 PRECONDITION_FAILED: declared by an older jobsd,
// or before amqp.queue_type or amqp.control_retention_s changed) is kept and reported, and
// logged (a job queue with the migration step: a policy, see the README): refusing to start
// would turn an upgrade or a changed setting into an outage. Any other failure throws
// amqp_error.
topology_report declare_topology(amqp_connection& conn, const amqp_options& options);

// The arguments of a job queue of `type`, as declared above.
amqp_arguments job_queue_arguments(const amqp_options& options, const std::string& type);

}  // namespace jobsd::queue

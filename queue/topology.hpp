// The exchanges and queues of the design, declared idempotently at every (re)connect.
#pragma once

#include "queue/amqp_connection.hpp"
#include "queue/amqp_options.hpp"

namespace jobsd::queue {

// Declares: direct exchange `exchange`; per job type a durable queue <queue_prefix><type>
// (quorum by default, with x-delivery-limit, dead-lettering to `dead_exchange` with the type as
// routing key) bound with routing key = type; direct `dead_exchange` with a queue per type;
// topic `events_exchange` with jobsd's durable `events_queue` bound to it with "#"; topic
// `control_exchange` with a stream per type (<control_queue_prefix><type>, x-max-age =
// control_retention) bound with "<type>.#". Throws amqp_error, e.g. when a queue exists with
// other arguments.
void declare_topology(amqp_connection& conn, const amqp_options& options);

}  // namespace jobsd::queue

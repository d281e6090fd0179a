// The per-type queue view (GET /api/queues, the dashboard): what the broker holds for each job
// type, built from the RabbitMQ management API's queue list. Pure code over JSON text; no I/O.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/amqp_options.hpp"

namespace jobsd::server {

struct queue_depth {
    std::string job_type;
    std::string queue;       // <queue_prefix><job_type>
    std::string dead_queue;  // <dead_queue_prefix><job_type>
    bool declared = false;   // the broker has the job queue (jobsd declares it on connect)
    std::uint64_t ready = 0;
    std::uint64_t unacked = 0;
    std::uint64_t consumers = 0;
    std::uint64_t dead_lettered = 0;  // messages waiting in the dead-letter queue
};

struct queue_view {
    std::vector<queue_depth> types;     // in amqp.job_types order
    std::int64_t read_at_ms = 0;        // when the broker was asked
    std::string source = "management";  // or "passive_declare" (the fallback)
    bool unacked_known = true;          // a passive declare cannot tell unacked messages
};

// Reads the body of GET /api/queues/<vhost> (a JSON array of queue objects with name,
// messages_ready, messages_unacknowledged, consumers, messages). Queues of other names are
// ignored; a counter the broker has not computed yet (a queue declared a moment ago) counts 0.
// Fails with a message when the body is not such an array.
boost::system::result<queue_view, std::string> parse_management_queues(std::string_view body,
                                                                       const queue::amqp_options& amqp,
                                                                       std::int64_t read_at_ms);

// The view as GET /api/queues answers it; `unacked` is null when unknown.
boost::json::value to_json(const queue_view& view);

}  // namespace jobsd::server

// Management API fields as documented for GET /api/queues: counters are absent until the
// broker's statistics collector has seen the queue, hence the zero defaults.
#include "server/queue_view.hpp"

#include <boost/json/parse.hpp>

#include "model/clock.hpp"

namespace jobsd::server {

namespace json = boost::json;

namespace {

std::uint64_t counter(const json::object& q, std::string_view name) {
    const auto* v = q.if_contains(name);
    if (!v) return 0;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() > 0) return static_cast<std::uint64_t>(v->get_int64());
    return 0;
}

}  // namespace

boost::system::result<queue_view, std::string> parse_management_queues(std::string_view body,
                                                                       const queue::amqp_options& amqp,
                                                                       std::int64_t read_at_ms) {
    boost::system::error_code ec;
    const auto doc = json::parse(body, ec);
    if (ec) return std::string("the management API answered something that is not JSON");
    const auto* list = doc.if_array();
    if (!list) return std::string("the management API answered JSON that is not a list of queues");

    queue_view view;
    view.read_at_ms = read_at_ms;
    for (const auto& type : amqp.job_types) {
        queue_depth d;
        d.job_type = type;
        d.queue = amqp.queue_prefix + type;
        d.dead_queue = amqp.dead_queue_prefix + type;
        view.types.push_back(std::move(d));
    }
    for (const auto& item : *list) {
        const auto* q = item.if_object();
        if (!q) continue;
        const auto* name = q->if_contains("name");
        if (!name || !name->is_string()) continue;
        const std::string_view n = name->get_string();
        for (auto& d : view.types) {
            if (n == d.queue) {
                d.declared = true;
                d.ready = counter(*q, "messages_ready");
                d.unacked = counter(*q, "messages_unacknowledged");
                d.consumers = counter(*q, "consumers");
            } else if (n == d.dead_queue) {
                d.dead_lettered = counter(*q, "messages");
            }
        }
    }
    return view;
}

json::value to_json(const queue_view& view) {
    json::array types;
    for (const auto& d : view.types)
        types.push_back(json::object{{"job_type", d.job_type},
                                     {"queue", d.queue},
                                     {"declared", d.declared},
                                     {"ready", d.ready},
                                     {"unacked", view.unacked_known ? json::value(d.unacked) : nullptr},
                                     {"consumers", d.consumers},
                                     {"dead_letter_queue", d.dead_queue},
                                     {"dead_lettered", d.dead_lettered}});
    return json::object{{"read_at", model::format_iso8601(view.read_at_ms)},
                        {"source", view.source},
                        {"queues", std::move(types)}};
}

}  // namespace jobsd::server

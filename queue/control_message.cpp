// Bodies are small and rare: built and read with Boost.JSON's DOM.
#include "queue/control_message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "model/clock.hpp"
#include "model/uuid.hpp"

namespace jobsd::queue {

namespace json = boost::json;

std::string control_routing_key(const control_message& m) {
    return m.job_type + "." + m.kind;
}

std::string control_message_id(const control_message& m) {
    return m.kind + ":" + m.uuid + ":" + std::to_string(m.attempt);
}

std::string control_body(const control_message& m) {
    return json::serialize(json::object{{"kind", m.kind},
                                        {"uuid", m.uuid},
                                        {"job_type", m.job_type},
                                        {"attempt", m.attempt},
                                        {"at", model::format_iso8601(m.at_ms)}});
}

std::optional<control_message> parse_control_message(std::string_view body) {
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    const auto* o = ec ? nullptr : doc.if_object();
    if (!o) return std::nullopt;
    const auto* kind = o->if_contains("kind");
    const auto* uuid = o->if_contains("uuid");
    const auto* attempt = o->if_contains("attempt");
    if (!kind || !kind->is_string() || kind->get_string() != cancel_kind) return std::nullopt;
    if (!uuid || !uuid->is_string() || !model::is_uuid(uuid->get_string())) return std::nullopt;
    if (!attempt || !attempt->is_int64() || attempt->get_int64() < 1 || attempt->get_int64() > 1'000'000)
        return std::nullopt;
    control_message m;
    m.kind = std::string(kind->get_string());
    m.uuid = std::string(uuid->get_string());
    m.attempt = static_cast<int>(attempt->get_int64());
    if (const auto* t = o->if_contains("job_type"); t && t->is_string())
        m.job_type = std::string(t->get_string());
    if (const auto* at = o->if_contains("at"); at && at->is_string())
        m.at_ms = model::parse_iso8601(at->get_string()).value_or(0);
    return m;
}

}  // namespace jobsd::queue

#include "queue/status_message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace jobsd::queue {

void append_status_record(std::string& records, std::string_view account_id, std::string_view session_id,
                          std::string_view event) {
    if (!records.empty()) records += ',';
    records += '[';
    records += boost::json::serialize(boost::json::string_view(account_id));
    records += ',';
    records += boost::json::serialize(boost::json::string_view(session_id));
    records += ',';
    records += boost::json::serialize(boost::json::string_view(event));
    records += ']';
}

std::string status_body(std::string_view records) {
    std::string body;
    body.reserve(records.size() + 2);
    body += '[';
    body += records;
    body += ']';
    return body;
}

std::vector<status_record> parse_status_body(std::string_view body) {
    std::vector<status_record> out;
    boost::system::error_code ec;
    const auto doc = boost::json::parse(body, ec);
    const auto* entries = ec ? nullptr : doc.if_array();
    if (!entries) return out;
    out.reserve(entries->size());
    for (const auto& entry : *entries) {
        const auto* triple = entry.if_array();
        if (!triple || triple->size() != 3) continue;
        const auto* a = (*triple)[0].if_string();
        const auto* s = (*triple)[1].if_string();
        const auto* e = (*triple)[2].if_string();
        if (!a || !s || !e) continue;
        out.push_back({std::string(*a), std::string(*s), std::string(*e)});
    }
    return out;
}

}  // namespace jobsd::queue

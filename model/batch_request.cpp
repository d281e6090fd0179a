// The body is checked as strict JSON and parsed before it is split (model/json_scan.hpp finds
// each job's text in it).
#include "model/batch_request.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <string>

#include "model/json_scan.hpp"
#include "model/strict_json.hpp"

namespace jobsd::model {

namespace json = boost::json;

namespace {

request_error batch_error(std::string field, std::string problem) {
    return request_error{
        request_error::kind::invalid_fields, "Invalid batch", {{std::move(field), std::move(problem)}}};
}

}  // namespace

std::variant<batch_request, request_error> parse_batch_request(std::string_view body, std::size_t max_jobs) {
    if (auto problem = strict_json_problem(body, max_json_depth + 2); !problem.empty()) {
        if (problem != "Malformed JSON body") problem = "Malformed JSON body: " + problem;
        return request_error{request_error::kind::malformed_json, std::move(problem), {}};
    }
    unsigned char buf[4096];
    json::monotonic_resource mr(buf, sizeof buf);
    boost::system::error_code ec;
    json::parse_options depth;  // a job as deep as a create allows, two levels down
    depth.max_depth = max_json_depth + 2;
    const json::value doc = json::parse(body, ec, &mr, depth);
    if (ec) return request_error{request_error::kind::malformed_json, "Malformed JSON body", {}};
    const auto* obj = doc.if_object();
    if (!obj) return request_error{request_error::kind::not_object, "Request body must be a JSON object", {}};
    for (const auto& member : *obj)
        if (member.key() != "jobs")
            return batch_error(std::string(member.key()),
                               "is not a member of a batch; send {\"jobs\": [...]}");
    const json::value* jobs = obj->if_contains("jobs");
    if (!jobs) return batch_error("jobs", "is required: an array of job bodies");
    const auto* list = jobs->if_array();
    if (!list) return batch_error("jobs", "must be an array of job bodies");
    if (list->empty()) return batch_error("jobs", "must hold at least one job");
    if (list->size() > max_jobs)
        return batch_error("jobs", "holds " + std::to_string(list->size()) + " jobs; a batch holds at most " +
                                       std::to_string(max_jobs));
    return batch_request{only_member_elements(body)};
}

}  // namespace jobsd::model

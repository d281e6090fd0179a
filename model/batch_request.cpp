// The body is checked as strict JSON and parsed before it is split, so the scan that finds each
// job's text only walks well-formed JSON: it needs to know strings and nesting, nothing more.
#include "model/batch_request.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <string>

#include "model/strict_json.hpp"

namespace jobsd::model {

namespace json = boost::json;

namespace {

class scanner {
  public:
    explicit scanner(std::string_view text) : s_(text) {}

    void skip_space() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skip(char) { ++pos_; }
    void skip_string() {
        ++pos_;  // the opening quote
        while (pos_ < s_.size() && s_[pos_] != '"') pos_ += s_[pos_] == '\\' ? 2 : 1;
        ++pos_;
    }
    // The text of the value that starts here.
    std::string_view value() {
        const std::size_t start = pos_;
        const char c = peek();
        if (c == '"') {
            skip_string();
        } else if (c == '{' || c == '[') {
            int depth = 0;
            while (pos_ < s_.size()) {
                const char d = s_[pos_];
                if (d == '"') {
                    skip_string();
                    continue;
                }
                ++pos_;
                if (d == '{' || d == '[') ++depth;
                if ((d == '}' || d == ']') && --depth == 0) break;
            }
        } else {
            while (pos_ < s_.size() &&
                   std::string_view(",]} \t\r\n").find(s_[pos_]) == std::string_view::npos)
                ++pos_;
        }
        return s_.substr(start, pos_ - start);
    }

  private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

// The texts of the elements of the one member's array, in {"<key>": [e0, e1, …]}.
std::vector<std::string_view> element_texts(std::string_view body) {
    scanner sc(body);
    sc.skip_space();
    sc.skip('{');
    sc.skip_space();
    sc.skip_string();
    sc.skip_space();
    sc.skip(':');
    sc.skip_space();
    sc.skip('[');
    std::vector<std::string_view> out;
    for (;;) {
        sc.skip_space();
        if (sc.peek() == ']' || sc.peek() == '\0') break;
        out.push_back(sc.value());
        sc.skip_space();
        if (sc.peek() == ',') sc.skip(',');
    }
    return out;
}

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
    return batch_request{element_texts(body)};
}

}  // namespace jobsd::model

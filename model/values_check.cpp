// Mapped fields are reported in the project's order, then unknown keys in the body's order, so
// the same body always gets the same list.
#include "model/values_check.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

#include <string>
#include <string_view>

namespace jobsd::model {

namespace json = boost::json;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
    return true;
}

bool is_http_url(std::string_view s) {
    auto u = boost::urls::parse_absolute_uri(s);
    if (!u) return false;
    return (iequals(u->scheme(), "http") || iequals(u->scheme(), "https")) && !u->encoded_host().empty();
}

std::string_view instruction_type(const json::value& field) {
    if (const auto* o = field.if_object())
        if (const auto* t = o->if_contains("instructionType"); t && t->is_string()) return t->get_string();
    return {};
}

// What a value of instruction type `type` must be, or "" when it is right (or `type` sets no rule).
std::string kind_problem(std::string_view type, const json::value& v) {
    if (type == "text") {
        const auto* s = v.if_string();
        return s && !s->empty() ? "" : "must be text (a non-empty string)";
    }
    if (type != "audio" && type != "image" && type != "video") return {};
    const std::string member = std::string(type) + "_url";
    const json::value* url = &v;
    if (const auto* asset = v.if_object()) url = asset->if_contains(member);
    if (url && url->is_string() && is_http_url(url->get_string())) return {};
    return "must be an " + std::string(type) + " URL (http or https), as a string or as {\"" + member +
           "\": …}";
}

std::string describe(std::string_view type) {
    if (type.empty()) return "is required by the project";
    if (type == "text") return "is required by the project (text)";
    return "is required by the project (" + std::string(type) + ")";
}

}  // namespace

std::vector<field_error> check_values(const project& p, const json::object* values) {
    std::vector<field_error> errors;
    for (const auto& field : p.mapping_fields) {
        const std::string name = "values." + std::string(field.key());
        const auto type = instruction_type(field.value());
        const json::value* v = values ? values->if_contains(field.key()) : nullptr;
        if (!v) {
            errors.push_back({name, describe(type)});
            continue;
        }
        if (auto problem = kind_problem(type, *v); !problem.empty())
            errors.push_back({name, std::move(problem)});
    }
    if (values)
        for (const auto& entry : *values)
            if (!p.mapping_fields.contains(entry.key()))
                errors.push_back({"values." + std::string(entry.key()), "is not a field of the project"});
    return errors;
}

std::vector<field_error> check_body_values(const project& p, std::string_view body) {
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    const json::object* values = nullptr;
    if (const auto* o = ec ? nullptr : doc.if_object())
        if (const auto* v = o->if_contains("values")) values = v->if_object();
    return check_values(p, values);
}

std::vector<field_error> check_job_values(const catalog& cat, const std::string& account_id,
                                          const std::string& source_id, std::string_view body) {
    const project* p = cat.find_project(account_id, source_id);
    if (!p || !p->strict_values) return {};
    return check_body_values(*p, body);
}

}  // namespace jobsd::model

// Loading and validating the payload mix; the shape checks mirror API.md's field table so a
// bench file that the server would reject with 400 is refused before the run starts.
#include "bench/jobs_bench/payload_mix.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace json = boost::json;

namespace jobsd::bench {

bool is_job_type(std::string_view s) noexcept {
    return std::find(std::begin(job_types), std::end(job_types), s) != std::end(job_types);
}

namespace {

bool is_video_type(std::string_view t) {
    return t == "video" || t == "ai_talking_video";
}

std::string check_asset(std::string_view key, const json::object& asset) {
    for (const auto& [k, v] : asset) {
        const std::string_view name = k;
        if (name.ends_with("_url") && !v.is_string())
            return "values." + std::string(key) + "." + std::string(name) + " must be a string";
        if (name == "effects" && !v.is_array())
            return "values." + std::string(key) + ".effects must be an array";
    }
    return {};
}

}  // namespace

std::string check_body_shape(const json::object& body) {
    const auto* type = body.if_contains("job_type");
    if (!type || !type->is_string()) return "job_type must be a string";
    const std::string_view t = type->get_string();
    if (!is_job_type(t)) return "job_type \"" + std::string(t) + "\" is not one of the seven job types";
    for (const char* id : {"template_id", "project_id", "session_id"}) {
        if (const auto* v = body.if_contains(id); v && !v->is_string())
            return std::string(id) + " must be a string";
    }
    if (!body.contains("template_id") && !body.contains("project_id"))
        return "template_id or project_id is required";
    if (const auto* v = body.if_contains("version"); v && !v->is_number()) return "version must be a number";
    if (const auto* v = body.if_contains("values")) {
        if (!v->is_object()) return "values must be an object";
        for (const auto& [k, e] : v->get_object()) {
            if (e.is_string()) continue;
            if (!e.is_object()) return "values." + std::string(k) + " must be a string or an asset object";
            if (auto err = check_asset(k, e.get_object()); !err.empty()) return err;
        }
    }
    if (const auto* v = body.if_contains("background_music"); v && !v->is_string() && !v->is_null())
        return "background_music must be a string or null";
    if (const auto* v = body.if_contains("background_volume")) {
        if (!v->is_number()) return "background_volume must be a number";
        const double d = v->to_number<double>();
        if (d < 0 || d > 1) return "background_volume must be within 0..1";
    }
    if (const auto* v = body.if_contains("background_start")) {
        if (!v->is_number() || v->to_number<double>() < 0) return "background_start must be a number >= 0";
    }
    if (!is_video_type(t) && (body.contains("background_music") || body.contains("background_volume")))
        return "background_* fields belong to video workflows only";
    return {};
}

payload_mix payload_mix::parse(std::string_view text, std::string_view source) {
    const std::string where(source);
    json::parse_options po;
    po.allow_comments = true;
    po.allow_trailing_commas = true;
    boost::system::error_code ec;
    json::value root = json::parse(text, ec, {}, po);
    if (ec) throw std::runtime_error(where + ": not valid JSON: " + ec.message());
    if (!root.is_object()) throw std::runtime_error(where + ": the top level must be an object");
    const auto& o = root.get_object();

    payload_mix mix;
    if (const auto* k = o.if_contains("api_key")) {
        if (!k->is_string()) throw std::runtime_error(where + ": api_key must be a string");
        mix.api_key_ = std::string(k->get_string());
    }
    if (const auto* f = o.if_contains("fresh_session_id")) {
        if (!f->is_bool()) throw std::runtime_error(where + ": fresh_session_id must be true or false");
        mix.fresh_session_id_ = f->get_bool();
    }
    const auto* jobs = o.if_contains("jobs");
    if (!jobs || !jobs->is_array() || jobs->get_array().empty())
        throw std::runtime_error(where + ": \"jobs\" must be a non-empty array");
    // Bounded: a mix is a handful of shapes, not a data set.
    if (jobs->get_array().size() > 256) throw std::runtime_error(where + ": more than 256 job variants");
    double total = 0;
    std::size_t n = 0;
    for (const auto& j : jobs->get_array()) {
        const std::string at = where + ": jobs[" + std::to_string(n++) + "]";
        if (!j.is_object()) throw std::runtime_error(at + " must be an object");
        const auto* w = j.get_object().if_contains("weight");
        const auto* b = j.get_object().if_contains("body");
        if (!w || !w->is_number() || w->to_number<double>() <= 0)
            throw std::runtime_error(at + ".weight must be a number > 0");
        if (!b || !b->is_object()) throw std::runtime_error(at + ".body must be an object");
        if (auto err = check_body_shape(b->get_object()); !err.empty())
            throw std::runtime_error(at + ".body: " + err);
        payload_variant v;
        v.job_type = std::string(b->get_object().at("job_type").get_string());
        v.weight = w->to_number<double>();
        v.body = b->get_object();
        total += v.weight;
        mix.variants_.push_back(std::move(v));
    }
    double acc = 0;
    for (const auto& v : mix.variants_) mix.cumulative_.push_back((acc += v.weight) / total);
    mix.cumulative_.back() = 1.0;
    return mix;
}

payload_mix payload_mix::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open the payload file");
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.size() > (1u << 20)) throw std::runtime_error(path + ": payload file larger than 1 MiB");
    return parse(text, path);
}

void payload_mix::apply(const payload_overrides& o) {
    for (auto& v : variants_) {
        if (!o.template_id.empty() && v.body.contains("template_id")) v.body["template_id"] = o.template_id;
        if (!o.prompt_id.empty() && v.job_type == "ai_image_generation") v.body["project_id"] = o.prompt_id;
        if (!o.webhook.empty()) v.body["webhook"] = o.webhook;
    }
}

std::string payload_mix::body_text(std::size_t i) const {
    json::object b = variants_.at(i).body;
    if (fresh_session_id_) b["session_id"] = session_placeholder;
    return json::serialize(b);
}

std::size_t payload_mix::pick(std::uint64_t draw) const noexcept {
    // 53 random bits give a uniform double in [0, 1).
    const double u = static_cast<double>(draw >> 11) * (1.0 / 9007199254740992.0);
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
    return std::min<std::size_t>(static_cast<std::size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
}

}  // namespace jobsd::bench

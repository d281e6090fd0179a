// Reading the seed file: every member is checked, and a problem names the file and the path.
#include "store/seed.hpp"

#include <boost/json/parse.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model/clock.hpp"

namespace jobsd::store {

namespace json = boost::json;

namespace {

class reader {
  public:
    reader(std::string what, std::string file) : what_(std::move(what)), file_(std::move(file)) {}

    [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
        throw std::runtime_error(what_ + " " + file_ + ": " + where + ": " + problem);
    }

    const json::object& object(const json::value& v, const std::string& where) const {
        if (!v.is_object()) fail(where, "must be an object");
        return v.get_object();
    }
    const json::array& array(const json::object& o, std::string_view key, const std::string& where) const {
        static const json::array empty;
        const json::value* v = o.if_contains(key);
        if (!v) return empty;
        if (!v->is_array()) fail(where + "." + std::string(key), "must be an array");
        return v->get_array();
    }
    std::string string(const json::object& o, std::string_view key, const std::string& where,
                       bool required) const {
        const json::value* v = o.if_contains(key);
        if (!v || v->is_null()) {
            if (required) fail(where + "." + std::string(key), "is required");
            return {};
        }
        if (!v->is_string()) fail(where + "." + std::string(key), "must be a string");
        return std::string(v->get_string());
    }
    std::optional<std::int64_t> date(const json::object& o, std::string_view key,
                                     const std::string& where) const {
        const std::string text = string(o, key, where, false);
        if (text.empty()) return std::nullopt;
        auto ms = model::parse_iso8601(text);
        if (!ms) fail(where + "." + std::string(key), "must be an ISO-8601 date, got \"" + text + "\"");
        return ms;
    }

  private:
    std::string what_;  // "seed file", "project file", …
    std::string file_;
};

// The document of a JSON file (comments and trailing commas allowed, as in conf/).
json::value read_document(const reader& r, const std::filesystem::path& file, const std::string& what) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(what + " " + file.string() + ": cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    json::parse_options opts;
    opts.allow_comments = true;
    opts.allow_trailing_commas = true;
    boost::system::error_code ec;
    json::value doc = json::parse(text.str(), ec, {}, opts);
    if (ec) r.fail("(document)", "is not valid JSON: " + ec.message());
    return doc;
}

model::project read_project(const reader& r, const json::value& v, const std::string& account_id,
                            const std::string& where, bool id_required) {
    const auto& po = r.object(v, where);
    model::project proj;
    proj.id = r.string(po, "id", where, id_required);
    proj.account_id = account_id;
    proj.name = r.string(po, "name", where, false);
    proj.type = r.string(po, "type", where, false);
    proj.start_ms = r.date(po, "start_date", where);
    proj.end_ms = r.date(po, "end_date", where);
    if (const json::value* f = po.if_contains("mapping_fields"); f && !f->is_null())
        proj.mapping_fields = r.object(*f, where + ".mapping_fields");
    if (const json::value* strict = po.if_contains("strict_values"); strict && !strict->is_null()) {
        if (!strict->is_bool()) r.fail(where + ".strict_values", "must be true or false");
        proj.strict_values = strict->get_bool();
    }
    return proj;
}

model::image_prompt read_image_prompt(const reader& r, const json::value& v, const std::string& account_id,
                                      const std::string& where, bool id_required) {
    const auto& po = r.object(v, where);
    return {r.string(po, "id", where, id_required), account_id, r.string(po, "name", where, false),
            r.string(po, "prompt", where, false)};
}

}  // namespace

seed_data load_seed_file(const std::filesystem::path& file) {
    reader r("seed file", file.string());
    json::value doc = read_document(r, file, "seed file");

    seed_data seed;
    const auto& root = r.object(doc, "(document)");
    const auto& accounts = r.array(root, "accounts", "");
    for (std::size_t i = 0; i < accounts.size(); ++i) {
        const std::string where = "accounts[" + std::to_string(i) + "]";
        const auto& a = r.object(accounts[i], where);
        seed_account acc{r.string(a, "id", where, true), r.string(a, "name", where, false), {}};
        const auto& keys = r.array(a, "keys", where);
        for (std::size_t k = 0; k < keys.size(); ++k) {
            if (!keys[k].is_string() || keys[k].get_string().empty())
                r.fail(where + ".keys[" + std::to_string(k) + "]", "must be a non-empty string");
            acc.keys.emplace_back(keys[k].get_string());
        }
        const auto& projects = r.array(a, "projects", where);
        for (std::size_t p = 0; p < projects.size(); ++p)
            seed.projects.push_back(
                read_project(r, projects[p], acc.id, where + ".projects[" + std::to_string(p) + "]", true));
        const auto& prompts = r.array(a, "image_prompts", where);
        for (std::size_t p = 0; p < prompts.size(); ++p)
            seed.image_prompts.push_back(read_image_prompt(
                r, prompts[p], acc.id, where + ".image_prompts[" + std::to_string(p) + "]", true));
        seed.accounts.push_back(std::move(acc));
    }
    const auto& operator_keys = r.array(root, "operator_keys", "");
    for (std::size_t k = 0; k < operator_keys.size(); ++k) {
        if (!operator_keys[k].is_string() || operator_keys[k].get_string().empty())
            r.fail("operator_keys[" + std::to_string(k) + "]", "must be a non-empty string");
        seed.operator_keys.emplace_back(operator_keys[k].get_string());
    }
    return seed;
}

model::project load_project_file(const std::filesystem::path& file, const std::string& account_id) {
    reader r("project file", file.string());
    return read_project(r, read_document(r, file, "project file"), account_id, "(document)", false);
}

model::image_prompt load_image_prompt_file(const std::filesystem::path& file, const std::string& account_id) {
    reader r("image prompt file", file.string());
    return read_image_prompt(r, read_document(r, file, "image prompt file"), account_id, "(document)", false);
}

}  // namespace jobsd::store

// A SAX pass with Boost.JSON's basic_parser: one key set per open object, nothing built.
#include "model/strict_json.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <cmath>
#include <system_error>
#include <unordered_set>
#include <vector>

namespace jobsd::model {

namespace {

using boost::system::error_code;
using sv = boost::json::string_view;

struct strict_handler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    // One entry per open container; objects carry the keys seen so far.
    struct frame {
        bool object;
        std::unordered_set<std::string> keys;
    };
    std::vector<frame> open;
    std::string key;
    std::string problem;

    bool fail(error_code& ec, std::string why) {
        problem = std::move(why);
        ec = std::make_error_code(std::errc::invalid_argument);
        return false;
    }

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) {
        open.push_back({true, {}});
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        open.pop_back();
        return true;
    }
    bool on_array_begin(error_code&) {
        open.push_back({false, {}});
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        open.pop_back();
        return true;
    }
    bool on_key_part(sv s, std::size_t, error_code&) {
        key.append(s.data(), s.size());
        return true;
    }
    bool on_key(sv s, std::size_t, error_code& ec) {
        key.append(s.data(), s.size());
        const bool fresh = open.back().keys.insert(key).second;
        if (!fresh) return fail(ec, "duplicate key \"" + key.substr(0, 64) + "\" in JSON body");
        key.clear();
        return true;
    }
    bool on_string_part(sv, std::size_t, error_code&) { return true; }
    bool on_string(sv, std::size_t, error_code&) { return true; }
    bool on_number_part(sv, error_code&) { return true; }
    bool on_int64(std::int64_t, sv, error_code&) { return true; }
    bool on_uint64(std::uint64_t, sv, error_code&) { return true; }
    bool on_double(double d, sv, error_code& ec) {
        if (!std::isfinite(d)) return fail(ec, "number out of range in JSON body");
        return true;
    }
    bool on_bool(bool, error_code&) { return true; }
    bool on_null(error_code&) { return true; }
    bool on_comment_part(sv, error_code&) { return true; }
    bool on_comment(sv, error_code&) { return true; }
};

}  // namespace

std::string strict_json_problem(std::string_view text, std::size_t max_depth) {
    boost::json::parse_options opts;
    opts.max_depth = max_depth;
    boost::json::basic_parser<strict_handler> parser(opts);
    error_code ec;
    const auto n = parser.write_some(false, text.data(), text.size(), ec);
    // Trailing bytes and syntax errors are plain malformed JSON; only what a lenient parser would
    // accept gets its own explanation.
    if (!ec && n < text.size()) return "Malformed JSON body";
    if (!ec) return {};
    if (!parser.handler().problem.empty()) return parser.handler().problem;
    if (ec == boost::json::error::too_deep) return "JSON body nested deeper than " + std::to_string(max_depth);
    return "Malformed JSON body";
}

}  // namespace jobsd::model

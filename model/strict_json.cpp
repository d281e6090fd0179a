// A SAX pass with Boost.JSON's basic_parser: the keys of each object are compared when it closes,
// nothing else is kept.
#include "model/strict_json.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace jobsd::model {

namespace {

using boost::system::error_code;
using sv = boost::json::string_view;

// Keys of every open object, back to back, checked for duplicates when the object closes. The
// storage is per thread and reused, so a request allocates nothing here once a thread has warmed up.
struct key_scratch {
    std::string names;                                      // the bytes of every key of every open object
    std::vector<std::pair<std::size_t, std::size_t>> keys;  // (offset, size) in names
    std::vector<std::size_t> objects;                       // where each open object's keys start
    std::vector<std::string_view> sorted;                   // one closing object's keys, to compare

    void clear() {
        names.clear();
        keys.clear();
        objects.clear();
    }
};

struct strict_handler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    explicit strict_handler(key_scratch& s) : k(s) { k.clear(); }

    key_scratch& k;
    std::size_t key_begin = std::string::npos;  // offset of the key being read, in parts
    std::string problem;

    bool fail(error_code& ec, std::string why) {
        problem = std::move(why);
        ec = std::make_error_code(std::errc::invalid_argument);
        return false;
    }

    // A duplicate among the keys of the object that just closed, if any.
    std::optional<std::string_view> duplicate_in_closing_object() {
        const std::size_t first = k.objects.back();
        const std::size_t n = k.keys.size() - first;
        auto key_at = [&](std::size_t i) {
            const auto [off, len] = k.keys[first + i];
            return std::string_view(k.names).substr(off, len);
        };
        if (n <= 8) {  // the usual object: comparing pairs beats sorting
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = i + 1; j < n; ++j)
                    if (key_at(i) == key_at(j)) return key_at(i);
            return std::nullopt;
        }
        k.sorted.clear();
        for (std::size_t i = 0; i < n; ++i) k.sorted.push_back(key_at(i));
        std::sort(k.sorted.begin(), k.sorted.end());
        const auto dup = std::adjacent_find(k.sorted.begin(), k.sorted.end());
        if (dup != k.sorted.end()) return *dup;
        return std::nullopt;
    }

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) {
        k.objects.push_back(k.keys.size());
        return true;
    }
    bool on_object_end(std::size_t, error_code& ec) {
        if (const auto dup = duplicate_in_closing_object())
            return fail(ec, "duplicate key \"" + std::string(dup->substr(0, 64)) + "\" in JSON body");
        const std::size_t first = k.objects.back();
        if (first < k.keys.size()) k.names.resize(k.keys[first].first);
        k.keys.resize(first);
        k.objects.pop_back();
        return true;
    }
    bool on_array_begin(error_code&) { return true; }
    bool on_array_end(std::size_t, error_code&) { return true; }
    bool on_key_part(sv s, std::size_t, error_code&) {
        if (key_begin == std::string::npos) key_begin = k.names.size();
        k.names.append(s.data(), s.size());
        return true;
    }
    bool on_key(sv s, std::size_t, error_code&) {
        if (key_begin == std::string::npos) key_begin = k.names.size();
        k.names.append(s.data(), s.size());
        k.keys.emplace_back(key_begin, k.names.size() - key_begin);
        key_begin = std::string::npos;
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
    thread_local key_scratch scratch;
    boost::json::basic_parser<strict_handler> parser(opts, scratch);
    error_code ec;
    const auto n = parser.write_some(false, text.data(), text.size(), ec);
    // A body with unusually many keys does not leave its storage behind on this thread.
    if (scratch.names.capacity() > 64 * 1024 || scratch.keys.capacity() > 4096) scratch = key_scratch{};
    // Trailing bytes and syntax errors are plain malformed JSON; only what a lenient parser would
    // accept gets its own explanation.
    if (!ec && n < text.size()) return "Malformed JSON body";
    if (!ec) return {};
    if (!parser.handler().problem.empty()) return parser.handler().problem;
    if (ec == boost::json::error::too_deep)
        return "JSON body nested deeper than " + std::to_string(max_depth);
    return "Malformed JSON body";
}

}  // namespace jobsd::model

// A SAX pass with Boost.JSON's basic_parser: the keys of each object are compared when it closes.
// The checking pass keeps nothing else; the building pass also pushes every value on a
// json::value_stack, as Boost.JSON's own parser does, so the tree comes out of the same pass.
#include "model/strict_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

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

// No tree: the checks alone.
struct no_tree {
    void push_object(std::size_t) {}
    void push_array(std::size_t) {}
    void push_chars(sv) {}
    void push_key(sv) {}
    void push_string(sv) {}
    void push_int64(std::int64_t) {}
    void push_uint64(std::uint64_t) {}
    void push_double(double) {}
    void push_bool(bool) {}
    void push_null() {}
};

// Tree is no_tree or boost::json::value_stack.
template <class Tree>
struct strict_handler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    strict_handler(key_scratch& s, Tree& t) : k(s), tree(t) { k.clear(); }

    key_scratch& k;
    Tree& tree;
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
    bool on_object_end(std::size_t n, error_code& ec) {
        if (const auto dup = duplicate_in_closing_object())
            return fail(ec, "duplicate key \"" + std::string(dup->substr(0, 64)) + "\" in JSON body");
        const std::size_t first = k.objects.back();
        if (first < k.keys.size()) k.names.resize(k.keys[first].first);
        k.keys.resize(first);
        k.objects.pop_back();
        tree.push_object(n);
        return true;
    }
    bool on_array_begin(error_code&) { return true; }
    bool on_array_end(std::size_t n, error_code&) {
        tree.push_array(n);
        return true;
    }
    bool on_key_part(sv s, std::size_t, error_code&) {
        if (key_begin == std::string::npos) key_begin = k.names.size();
        k.names.append(s.data(), s.size());
        tree.push_chars(s);
        return true;
    }
    bool on_key(sv s, std::size_t, error_code&) {
        if (key_begin == std::string::npos) key_begin = k.names.size();
        k.names.append(s.data(), s.size());
        k.keys.emplace_back(key_begin, k.names.size() - key_begin);
        key_begin = std::string::npos;
        tree.push_key(s);
        return true;
    }
    bool on_string_part(sv s, std::size_t, error_code&) {
        tree.push_chars(s);
        return true;
    }
    bool on_string(sv s, std::size_t, error_code&) {
        tree.push_string(s);
        return true;
    }
    bool on_number_part(sv, error_code&) { return true; }
    bool on_int64(std::int64_t i, sv, error_code&) {
        tree.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, sv, error_code&) {
        tree.push_uint64(u);
        return true;
    }
    bool on_double(double d, sv, error_code& ec) {
        if (!std::isfinite(d)) return fail(ec, "number out of range in JSON body");
        tree.push_double(d);
        return true;
    }
    bool on_bool(bool b, error_code&) {
        tree.push_bool(b);
        return true;
    }
    bool on_null(error_code&) {
        tree.push_null();
        return true;
    }
    bool on_comment_part(sv, error_code&) { return true; }
    bool on_comment(sv, error_code&) { return true; }
};

// One pass of the strict handler over `text`, building into `tree`: "" or the problem.
template <class Tree>
std::string strict_pass(std::string_view text, std::size_t max_depth, Tree& tree) {
    boost::json::parse_options opts;
    opts.max_depth = max_depth;
    thread_local key_scratch scratch;
    boost::json::basic_parser<strict_handler<Tree>> parser(opts, scratch, tree);
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

}  // namespace

std::string strict_json_problem(std::string_view text, std::size_t max_depth) {
    no_tree none;
    return strict_pass(text, max_depth, none);
}

strict_document parse_strict_json(std::string_view text, boost::json::storage_ptr sp, std::size_t max_depth) {
    // The stack's own scratch space is on this frame, as boost::json::parse does.
    unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
    boost::json::value_stack stack({}, temp, sizeof temp);
    stack.reset(std::move(sp));
    std::string problem = strict_pass(text, max_depth, stack);
    // Moved, not assigned: assigning into a value of other storage would copy the tree.
    if (!problem.empty()) return {nullptr, std::move(problem)};
    return {stack.release(), {}};
}

}  // namespace jobsd::model

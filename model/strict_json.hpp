// JSON that two parsers could read differently, or that is built to hurt, is refused before any
// work is done: duplicate keys (which one wins differs between parsers), nesting past a bound,
// numbers that do not fit a double. Invalid UTF-8 and trailing bytes are refused by the parse
// itself. Pure code; no I/O.
#pragma once

#include <boost/json/parse_options.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace jobsd::model {

// Nesting a job body never needs more than; deeper documents are refused.
inline constexpr std::size_t max_json_depth = 32;

// Nesting the messages between jobsd and its workers are read with. A job message holds a job
// body (up to max_json_depth) one level down, and an event batch a handler's output three levels
// down; a bound at the body's own would refuse a job the API accepted, or its outcome.
inline constexpr std::size_t max_message_depth = 2 * max_json_depth;

// Boost.JSON's options for reading such a message.
inline boost::json::parse_options message_parse_options() {
    boost::json::parse_options opts;
    opts.max_depth = max_message_depth;
    return opts;
}

// "" when `text` is strict JSON; otherwise what is wrong with it, for the client.
std::string strict_json_problem(std::string_view text, std::size_t max_depth = max_json_depth);

// A document read strictly: `problem` as strict_json_problem says it, or "" and the tree.
struct strict_document {
    boost::json::value doc;
    std::string problem;
};

// strict_json_problem's checks and the tree in one pass (its storage from `sp`), where checking
// first and then boost::json::parse read the text twice.
strict_document parse_strict_json(std::string_view text, boost::json::storage_ptr sp = {},
                                  std::size_t max_depth = max_json_depth);

}  // namespace jobsd::model

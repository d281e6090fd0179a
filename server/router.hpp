// Matching a request's method and target against a route table: the route, or 404, or 405 with
// the methods the path allows. Pure code over strings; no I/O.
#pragma once

#include <boost/beast/http/verb.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/route.hpp"

namespace jobsd::server {

struct route_match {
    enum class outcome { found, not_found, wrong_method };
    outcome result = outcome::not_found;
    const route* which = nullptr;  // when found
    std::size_t index = 0;         // when found: the row's place in the table
    std::string_view param;        // when found: the `:name` segment, a view into the target
    std::string allow;             // when wrong_method: the value of the Allow header
};

// `target` is the request target; a query string is ignored, and so is one trailing slash. When
// several rows match the path, literal segments win over parameters (GET /jobs/v2 is not a job
// id), then the method picks the row. HEAD takes the GET row of a path when that row answers
// rather than streams; Allow lists HEAD beside such a GET.
route_match match_route(std::span<const route> table, boost::beast::http::verb method,
                        std::string_view target);

// Whether `path` (no query string, no trailing slash) matches `pattern`; sets `param` and the
// number of parameter segments it took.
bool match_pattern(std::string_view pattern, std::string_view path, std::string_view& param, int& params);
// The same with the pattern's literal prefix length known (route::literal_size).
bool match_pattern(std::string_view pattern, std::size_t literal_size, std::string_view path,
                   std::string_view& param, int& params);

// Metric slots: 0 for requests no route took (404 and errors before routing), 1 for 405, then one
// per table row. `slot_names` lists their labels in that order.
constexpr std::size_t unrouted_slot = 0;
constexpr std::size_t wrong_method_slot = 1;
std::size_t metrics_slot(const route_match& m) noexcept;
std::vector<std::string_view> slot_names(std::span<const route> table);

}  // namespace jobsd::server

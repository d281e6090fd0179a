// Checks of a request body's header fields (media type, declared length) made before the body is
// read, shared by every route that takes a JSON body. Pure code; no I/O.
#pragma once

#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

#include "server/http_types.hpp"

namespace jobsd::server {

// True for `application/json` in any letter case, with or without parameters.
bool is_json_content_type(std::string_view value);

// The value of the `charset` parameter of a Content-Type (name in any letter case, parameters in
// any order, quotes removed), or "" when there is none.
std::string_view charset_of(std::string_view content_type);

// 415 when the body is not declared JSON or declares a charset other than UTF-8 (in any letter
// case), 413 when its declared length is past `limit`;
// nullopt when both are fine (a chunked body is bounded by the parser instead).
std::optional<response> check_json_body(const http::request_header<>& header, std::size_t limit);

}  // namespace jobsd::server

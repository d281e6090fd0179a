// GET /jobs/v2's query string: filters, page size and the opaque cursor, checked and turned into
// a store query; and the cursor's text form. Pure code over strings; no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "model/create_request.hpp"
#include "store/job_query.hpp"

namespace jobsd::server {

inline constexpr std::size_t default_page_size = 50;
inline constexpr std::size_t max_page_size = 1000;

struct list_request {
    store::job_query query;  // every field but account_id; limit is the page size asked for
    // The request's own parameters except `cursor`, still percent-encoded and in their order
    // ("" when none): the next page's link is "/jobs/v2?" + this + "cursor=…".
    std::string other_params;
};

// Parameters: status (repeatable: any of), job_type, session_id, template_id or project_id (the
// job's resolved source; both only when equal), created_after and created_before (ISO-8601,
// exclusive), limit (1 to 1000, default 50), cursor. An unknown, repeated (but status), empty or
// invalid parameter is a request_error naming it in `errors`.
std::variant<list_request, model::request_error> parse_list_query(std::string_view target);

// The cursor of the page that follows `last` (the last job of a page): base64url (no padding) of
// "1.<created_ms>.<uuid>.<checksum>". Opaque to clients; only jobsd reads it back.
std::string encode_cursor(const store::job_position& last);
// nullopt unless `text` is a cursor encode_cursor made (any change to it is refused).
std::optional<store::job_position> decode_cursor(std::string_view text);

}  // namespace jobsd::server

// The body of a status relay message (queue/status_relay.hpp): the live status events one jobsd
// instance passes to the others, as a JSON array of [account_id, session_id, event] triples, the
// event the very text the session stream writes (a JSON string here, so it arrives unchanged).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jobsd::queue {

struct status_record {
    std::string account_id;
    std::string session_id;
    std::string event;
};

// Appends one triple to `records`, the inside of the array (comma-separated).
void append_status_record(std::string& records, std::string_view account_id, std::string_view session_id,
                          std::string_view event);
// "[" + records + "]".
std::string status_body(std::string_view records);
// The triples of a body; an entry that is not three strings is skipped, and a body that is not
// a JSON array gives none.
std::vector<status_record> parse_status_body(std::string_view body);

}  // namespace jobsd::queue

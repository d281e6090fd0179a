// JSON written as text, for the hot path's fixed-shape documents (the 201 body, the job message),
// where building a DOM only to serialize it would cost an allocation per member. Pure code.
#pragma once

#include <string>
#include <string_view>

namespace jobsd::model {

// Appends `s` as a JSON string literal (quotes included): `"` and `\` escaped, control characters
// as \b \f \n \r \t or \u00XX; everything else, UTF-8 included, as it is. `s` must be valid UTF-8
// (every text that reaches here came through the JSON parser, the store or our own ids).
void append_json_string(std::string& out, std::string_view s);

}  // namespace jobsd::model

// Text from outside that did not come through the JSON parser (a header's value, a query
// string's decoded parameter, a URL's decoded host), or a JSON string that may hold U+0000:
// whether both stores keep it exactly as given. PostgreSQL refuses a parameter that is not UTF-8
// (and with it every statement of the batch it came in) and ends a text at its first NUL, where
// SQLite keeps either; such text is refused at the door instead. Pure code.
#pragma once

#include <string_view>

namespace jobsd::model {

// Valid UTF-8 (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF) with no NUL.
bool is_storable_text(std::string_view s) noexcept;

}  // namespace jobsd::model

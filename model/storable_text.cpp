#include "model/storable_text.hpp"

#include <boost/locale/utf.hpp>

namespace jobsd::model {

bool is_storable_text(std::string_view s) noexcept {
    namespace utf = boost::locale::utf;
    const char* p = s.data();
    const char* const end = p + s.size();
    while (p != end) {
        if (static_cast<unsigned char>(*p) < 0x80) {  // ASCII, the common case
            if (*p++ == '\0') return false;
            continue;
        }
        const utf::code_point c = utf::utf_traits<char>::decode(p, end);
        if (c == utf::illegal || c == utf::incomplete) return false;
    }
    return true;
}

}  // namespace jobsd::model

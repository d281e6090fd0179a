// Plain decisions with no I/O, shared by sqlite_admin_store and pg_admin_store so the two
// answer the same inputs with the same admin_errc values.
#include "store/admin_store_rules.hpp"

#include <boost/json/parse.hpp>

#include "store/admin_error.hpp"

namespace jobsd::store {

revoke_choice choose_key_to_revoke(const std::vector<std::string>& live,
                                   const std::vector<std::string>& revoked) {
    if (live.size() > 1) return {admin_errc::ambiguous_prefix, {}, false};
    if (live.size() == 1) return {{}, live.front(), false};
    if (revoked.empty()) return {admin_errc::unknown_key, {}, false};
    return {{}, revoked.front(), true};
}

boost::json::object parse_mapping_fields(std::string_view text) {
    boost::system::error_code ec;
    auto fields = boost::json::parse(text, ec);
    if (ec || !fields.is_object()) return {};
    return std::move(fields.get_object());
}

}  // namespace jobsd::store

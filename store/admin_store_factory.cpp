// URL scheme → admin store adapter; a scheme jobsctl does not serve is named in the error.
#include <stdexcept>

#include "store/admin_store.hpp"
#include "store/pg_admin_store.hpp"
#include "store/pg_connection.hpp"
#include "store/sqlite_admin_store.hpp"

namespace jobsd::store {

std::unique_ptr<admin_store> open_admin_store(const std::string& url) {
    constexpr std::string_view sqlite_scheme = "sqlite:";
    std::string_view rest = url;
    if (rest.starts_with(sqlite_scheme)) {
        rest.remove_prefix(sqlite_scheme.size());
        if (rest.starts_with("//"))
            rest.remove_prefix(2);  // sqlite:///abs/path and sqlite://rel, as jobsd reads them
        if (rest.empty()) throw std::invalid_argument("store URL \"" + url + "\" has no path");
        sqlite_admin_options o;
        o.path = std::string(rest);
        return std::make_unique<sqlite_admin_store>(std::move(o));
    }
    if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        pg_admin_options o;
        o.url = url;
        return std::make_unique<pg_admin_store>(std::move(o));
    }
    const auto colon = url.find(':');
    if (colon != std::string::npos && colon > 0)
        throw std::invalid_argument("store URL scheme \"" + url.substr(0, colon) +
                                    ":\" is not supported by jobsctl (expected sqlite:PATH or postgres://…)");
    throw std::invalid_argument("store URL \"" + redact_pg_url(url) +
                                "\" names no store (expected sqlite:PATH or postgres://…)");
}

}  // namespace jobsd::store

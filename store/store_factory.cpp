// URL scheme → adapter.
#include "store/store_factory.hpp"

#include <stdexcept>

#include "store/pg_connection.hpp"

namespace jobsd::store {

std::unique_ptr<store> open_store(const store_config& config) {
    constexpr std::string_view sqlite_scheme = "sqlite:";
    const std::string_view url = config.url;
    if (url.starts_with(sqlite_scheme)) {
        auto path = url.substr(sqlite_scheme.size());
        if (path.starts_with("//")) path.remove_prefix(2);  // sqlite:///abs/path and sqlite://rel
        if (path.empty()) throw std::invalid_argument("store.url: sqlite URL has no path");
        sqlite_options o = config.sqlite;
        o.path = std::string(path);
        return std::make_unique<sqlite_store>(std::move(o), config.common);
    }
    if (config.shared()) {
        pg_options o = config.pg;
        o.url = config.url;
        return std::make_unique<pg_store>(std::move(o), config.common);
    }
    throw std::invalid_argument("store.url: \"" + redact_pg_url(config.url) +
                                "\" names no known store (expected sqlite:PATH or postgres://…)");
}

}  // namespace jobsd::store

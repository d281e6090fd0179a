// Looks the name up in the table that server/embed_files.cmake generates from the files, and
// gives each a content type from its extension.
#include "server/dashboard_assets.hpp"

#include <cstddef>

namespace jobsd::server {

// Defined in the generated dashboard_files.cpp.
extern const embedded_file dashboard_files[];
extern const std::size_t dashboard_files_count;

std::string_view asset_content_type(std::string_view name) {
    if (name.ends_with(".html")) return "text/html; charset=utf-8";
    if (name.ends_with(".css")) return "text/css; charset=utf-8";
    if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
    if (name.ends_with(".svg")) return "image/svg+xml";
    if (name.ends_with(".json")) return "application/json";
    return "application/octet-stream";
}

std::optional<dashboard_asset> find_embedded(const embedded_file* files, std::size_t count,
                                             std::string_view name) {
    for (std::size_t i = 0; i < count; ++i) {
        const auto& f = files[i];
        if (name == f.name)
            return dashboard_asset{asset_content_type(name), {reinterpret_cast<const char*>(f.data), f.size}};
    }
    return std::nullopt;
}

std::optional<dashboard_asset> find_dashboard_asset(std::string_view name) {
    return find_embedded(dashboard_files, dashboard_files_count, name);
}

}  // namespace jobsd::server

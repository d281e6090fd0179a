// Looks the name up in the table that server/embed_files.cmake generates from the files, and
// gives each a content type from its extension.
#include "server/dashboard_assets.hpp"

#include <cstddef>

namespace jobsd::server {

// Defined in the generated dashboard_files.cpp.
struct embedded_file {
    const char* name;
    const unsigned char* data;
    std::size_t size;
};
extern const embedded_file dashboard_files[];
extern const std::size_t dashboard_file_count;

namespace {

std::string_view content_type_of(std::string_view name) {
    if (name.ends_with(".html")) return "text/html; charset=utf-8";
    if (name.ends_with(".css")) return "text/css; charset=utf-8";
    if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
    if (name.ends_with(".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

}  // namespace

std::optional<dashboard_asset> find_dashboard_asset(std::string_view name) {
    for (std::size_t i = 0; i < dashboard_file_count; ++i) {
        const auto& f = dashboard_files[i];
        if (name == f.name)
            return dashboard_asset{content_type_of(name), {reinterpret_cast<const char*>(f.data), f.size}};
    }
    return std::nullopt;
}

}  // namespace jobsd::server

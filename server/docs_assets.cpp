// Looks the name up in the table that server/embed_files.cmake generates (docs_files.cpp).
#include "server/docs_assets.hpp"

#include <cstddef>

namespace jobsd::server {

struct embedded_file {
    const char* name;
    const unsigned char* data;
    std::size_t size;
};
extern const embedded_file docs_files[];
extern const std::size_t docs_files_count;

std::optional<dashboard_asset> find_docs_asset(std::string_view name) {
    for (std::size_t i = 0; i < docs_files_count; ++i) {
        const auto& f = docs_files[i];
        if (name == f.name)
            return dashboard_asset{asset_content_type(name), {reinterpret_cast<const char*>(f.data), f.size}};
    }
    return std::nullopt;
}

}  // namespace jobsd::server

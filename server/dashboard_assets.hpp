// The dashboard's static files (server/dashboard/), compiled into jobsd at build time so the
// binary serves them with no files to install and nothing to find at run time.
// Thread safety: immutable data.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace jobsd::server {

struct dashboard_asset {
    std::string_view content_type;
    std::string_view body;
};

// The content type of an embedded file, from its extension (the API reference uses it too).
std::string_view asset_content_type(std::string_view name);

// One file of a table that server/embed_files.cmake generates (dashboard_files.cpp, docs_files.cpp).
struct embedded_file {
    const char* name;
    const unsigned char* data;
    std::size_t size;
};

// The file called `name` in an embedded table, with its content type; nullopt if absent.
std::optional<dashboard_asset> find_embedded(const embedded_file* files, std::size_t count,
                                             std::string_view name);

// The file called `name` (e.g. "index.html", "dashboard.js"), or nullopt.
std::optional<dashboard_asset> find_dashboard_asset(std::string_view name);

}  // namespace jobsd::server

// Looks the name up in the table that server/embed_files.cmake generates (docs_files.cpp).
#include "server/docs_assets.hpp"

#include <cstddef>

namespace jobsd::server {

// Defined in the generated docs_files.cpp.
extern const embedded_file docs_files[];
extern const std::size_t docs_files_count;

std::optional<dashboard_asset> find_docs_asset(std::string_view name) {
    return find_embedded(docs_files, docs_files_count, name);
}

}  // namespace jobsd::server

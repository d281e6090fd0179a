// The API reference compiled into jobsd: the OpenAPI document (openapi/openapi.json, the one kept
// in the repository) and the static page of server/docs/ that renders it.
// Thread safety: immutable data.
#pragma once

#include <optional>
#include <string_view>

#include "server/dashboard_assets.hpp"

namespace jobsd::server {

// "openapi.json", "index.html", "docs.css" or "docs.js"; nullopt for any other name.
std::optional<dashboard_asset> find_docs_asset(std::string_view name);

}  // namespace jobsd::server

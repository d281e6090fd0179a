// Every route jobsd serves, in one table: pattern, method, who may call it, and its handler.
#pragma once

#include <span>

#include "server/route.hpp"

namespace jobsd::server {

std::span<const route> route_table() noexcept;

}  // namespace jobsd::server

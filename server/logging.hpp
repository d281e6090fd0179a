// jobsd's logs: one JSON object per line on stderr (or plain text for a terminal), at the
// configured level, through spdlog.
#pragma once

#include "server/config.hpp"

namespace jobsd::server {

// Installs the default logger. Throws config_error for an unknown level or format.
void setup_logging(const log_options& options);

}  // namespace jobsd::server

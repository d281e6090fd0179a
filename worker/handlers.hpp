// The handler registry: --handler NAME picks one. Adding a C++ handler is one file with a
// class implementing job_handler (job_handler.hpp) plus one line in handlers.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "worker/job_handler.hpp"
#include "worker/worker_options.hpp"

namespace jobsd::worker {

// Throws std::invalid_argument for an unknown name or a handler whose settings are missing.
std::unique_ptr<job_handler> make_handler(const worker_options& options);

std::vector<std::string> handler_names();

}  // namespace jobsd::worker

// The command groups of jobsctl, one file each, gathered by all_commands() in cli.hpp.
#pragma once

#include <string>
#include <vector>

#include "admin/cli.hpp"
#include "store/admin_error.hpp"

namespace jobsd::admin {

std::vector<command> account_commands();  // account, key, operator-key
std::vector<command> catalog_commands();  // project, image-prompt
std::vector<command> job_commands();      // job
std::vector<command> webhook_commands();  // webhook

// The user-facing wording of an expected store failure about `subject` (an id, a prefix).
[[noreturn]] void fail(boost::system::error_code ec, const std::string& subject);

// A whole number within [min, max] from a flag value; cli_error(exit_usage) naming the flag otherwise.
std::size_t parse_count(const std::string& flag, const std::string& text, std::size_t min, std::size_t max);

}  // namespace jobsd::admin

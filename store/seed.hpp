// Demo and test data: accounts with their keys, projects and image prompts, and operator keys, read from a JSON
// file. Applying a seed is idempotent (existing rows are updated, nothing is duplicated).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "model/catalog.hpp"

namespace jobsd::store {

struct seed_account {
    std::string id;
    std::string name;
    std::vector<std::string> keys;  // plain keys as a client sends them; stored hashed
};

struct seed_data {
    std::vector<seed_account> accounts;
    std::vector<std::string> operator_keys;  // plain keys for /api/queues and /dashboard; stored hashed
    std::vector<model::project> projects;
    std::vector<model::image_prompt> image_prompts;
};

// Throws std::runtime_error naming the file and the offending member on bad input.
seed_data load_seed_file(const std::filesystem::path& file);

}  // namespace jobsd::store

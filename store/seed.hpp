// Demo and test data: accounts with their keys, projects and image prompts, and operator keys, read from a
// JSON file. Applying a seed is idempotent (existing rows are updated, nothing is duplicated).
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

// One project of `account_id` from a file holding a single object shaped like an entry of the
// seed file's accounts[].projects[] (id, name, type, start_date, end_date, mapping_fields,
// strict_values: false when absent), read
// with the same checks; `id` may be absent there (then it is ""). Throws like load_seed_file.
model::project load_project_file(const std::filesystem::path& file, const std::string& account_id);

// The same for an entry of accounts[].image_prompts[] (id, name, prompt).
model::image_prompt load_image_prompt_file(const std::filesystem::path& file, const std::string& account_id);

}  // namespace jobsd::store

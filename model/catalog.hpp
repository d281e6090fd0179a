// What a request is resolved against: accounts, their key hashes, projects and image prompts,
// and the operator keys of the operator routes.
// A catalog is an immutable snapshot; the server swaps in a fresh one periodically.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace jobsd::model {

struct project {
    std::string id;
    std::string account_id;
    std::string name;  // "" when unset
    std::string type;  // free text as the platform sends it (usually a job type)
    std::optional<std::int64_t> start_ms;
    std::optional<std::int64_t> end_ms;
    boost::json::object mapping_fields;  // "<key>": {"label": …, "instructionType": …}
    // Job values are checked against mapping_fields (model/values_check.hpp). Off unless the
    // project asks for it, so projects of the hosted API keep its lenient contract.
    bool strict_values = false;

    // Start and end are inclusive; a missing bound is open.
    bool active_at(std::int64_t now) const noexcept {
        return (!start_ms || *start_ms <= now) && (!end_ms || now <= *end_ms);
    }
};

struct image_prompt {
    std::string id;
    std::string account_id;
    std::string name;
    std::string prompt;
};

struct catalog {
    std::unordered_map<std::string, std::string> account_by_key_hash;
    std::unordered_set<std::string> operator_key_hashes;          // live operator keys (not customer keys)
    std::unordered_map<std::string, project> projects;            // by id
    std::unordered_map<std::string, image_prompt> image_prompts;  // by id

    // Lookups that enforce ownership: another account's object is as good as absent.
    const project* find_project(const std::string& account_id, const std::string& id) const {
        auto it = projects.find(id);
        return it != projects.end() && it->second.account_id == account_id ? &it->second : nullptr;
    }
    const image_prompt* find_image_prompt(const std::string& account_id, const std::string& id) const {
        auto it = image_prompts.find(id);
        return it != image_prompts.end() && it->second.account_id == account_id ? &it->second : nullptr;
    }
};

}  // namespace jobsd::model

// Finding the exact text of a value inside JSON already checked to be well formed (the strict
// parse of model/strict_json.hpp, or a stored input that passed it): a walk that only needs to
// know strings and nesting. Used where the client's own text must be kept byte for byte rather
// than re-serialized from a parse (a batch's job bodies, a job's `values`). Pure code over text.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace jobsd::model {

// The texts of the elements of the array that is the one member of `object_text`
// ({"<key>": [e0, e1, …]}), in order.
std::vector<std::string_view> only_member_elements(std::string_view object_text);

// The text of the top-level member `name` of `object_text`, whose key is written as `name`
// itself (no escapes); nullopt when there is none.
std::optional<std::string_view> member_text(std::string_view object_text, std::string_view name);

}  // namespace jobsd::model

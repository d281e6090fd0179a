// A job's `values` checked against its project's mapping fields, for projects that ask for it
// (project::strict_values). Pure code over a parsed body; no I/O.
#pragma once

#include <boost/json/object.hpp>

#include <string_view>
#include <vector>

#include "model/catalog.hpp"
#include "model/create_request.hpp"

namespace jobsd::model {

// Every problem of `values` (nullptr when the body has none) against `p`'s mapping fields, each
// named "values.<key>": a mapped field that is missing, a key the project does not map, a value
// of the wrong kind for its instructionType ("text": a non-empty string; "audio", "image",
// "video": an http(s) URL, as a string or as {"<type>_url": …}). Other instruction types take
// any value the request rules allow. Empty when the values fit.
std::vector<field_error> check_values(const project& p, const boost::json::object* values);

// The same for a job body that parse_create_request accepted (so it parses, and `values`, when
// present, is an object).
std::vector<field_error> check_body_values(const project& p, std::string_view body);

// The problems of a job resolved to `source_id` when that is a strict project of the account;
// empty for any other source (lenient projects, image prompts).
std::vector<field_error> check_job_values(const catalog& cat, const std::string& account_id,
                                          const std::string& source_id, std::string_view body);

}  // namespace jobsd::model

// POST /jobs/v2/batch: the body {"jobs": [<job body>, …]} split into its job bodies, each then
// validated exactly as a POST /jobs/v2 body. Pure code over text; no I/O.
#pragma once

#include <cstddef>
#include <string_view>
#include <variant>
#include <vector>

#include "model/create_request.hpp"

namespace jobsd::model {

// The batch's job bodies in order, each the exact text the client sent (a view into the body),
// so that a job's stored input is its own body byte for byte, as for a single create.
struct batch_request {
    std::vector<std::string_view> jobs;
};

// Refuses malformed or ambiguous JSON (as a single create does, two levels deeper for the
// envelope), a body that is not {"jobs": [...]} with nothing else, and an empty batch or one of
// more than `max_jobs` jobs; each problem names the member ("jobs") in `errors`. The items
// themselves are not checked here.
std::variant<batch_request, request_error> parse_batch_request(std::string_view body, std::size_t max_jobs);

}  // namespace jobsd::model

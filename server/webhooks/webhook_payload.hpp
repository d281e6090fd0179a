// The body of a webhook: {"type":"job.succeeded","timestamp":"<when the status changed>",
// "data":<the job as GET /jobs/:id shows it when the attempt is made>}, the envelope Standard
// Webhooks recommends. Pure code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/job.hpp"

namespace jobsd::server::webhooks {

std::string webhook_body(std::string_view event, std::int64_t event_ms, const model::job& job);

}  // namespace jobsd::server::webhooks

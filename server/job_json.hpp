// A job as the API shows it: the body of GET /jobs/:id and of the 201 that creates one. Written
// as text around the stored JSON (no DOM built to be serialized again): it is on the hot path.
#pragma once

#include <string>
#include <string_view>

#include "model/job.hpp"

namespace jobsd::server {

// {"uuid","user_id","template_id","job_type","job_status","input","values","output",
//  "created_at","updated_at","progress"?,"error"? (the last error, kept across retries),
//  "attempts","expires_at"?,"retry_at"? (a retry waiting for its backoff),
//  "cancel_requested"? (true while a cancel waits for the worker to stop the job)}
std::string job_body(const model::job& job);

// {"message":"Job update accepted and
// processing.","job":{"uuid","job_status":"QUEUED","job_type","template_id"}}
std::string created_body(std::string_view uuid, model::job_type type, std::string_view source_id);

}  // namespace jobsd::server

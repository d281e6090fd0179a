// A job as the API shows it: the body of GET /jobs/:id, of a page of GET /jobs/v2, and of the 201
// that creates one or a batch. Written
// as text around the stored JSON (no DOM built to be serialized again): it is on the hot path.
#pragma once

#include <span>
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

// The 201 of a batch: {"message":"Jobs accepted and processing.","jobs":[<as created_body's job>…]}
std::string batch_created_body(std::span<const model::job> jobs);

// A page of GET /jobs/v2: {"message":"Success","data":[<job_body>…],"next_cursor":…,"next":…};
// the last two are null on the last page.
std::string job_list_body(std::span<const model::job> jobs, std::string_view next_cursor,
                          std::string_view next);

}  // namespace jobsd::server

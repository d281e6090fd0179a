// The job message of the design's message contract: what a worker of any language receives.
#pragma once

#include <cstdint>
#include <string>

#include "model/job.hpp"

namespace jobsd::queue {

struct job_message {
    std::string uuid;      // also the AMQP message_id, so consumers can dedupe
    std::string job_type;  // routing key and AMQP type
    std::string body;      // JSON, see make_job_message
    std::int64_t created_ms = 0;
};

// Body: {"uuid","job_type","account_id","source_id","session_id","version","input":{…},"created_at"};
// `input` is the stored request text spliced in unchanged.
job_message make_job_message(const model::job& job);

}  // namespace jobsd::queue

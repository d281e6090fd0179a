// The job message of the design's message contract: what a worker of any language receives.
// Contract version 3 (worker/README.md documents every version): the body and the
// `x-jobsd-contract` header say which contract it follows; it carries the attempt and, when
// the job has one, its deadline (body `expires_at`, AMQP `expiration` as the time left).
#pragma once

#include <amqp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "model/job.hpp"

namespace jobsd::queue {

// The contract this build speaks; a change a worker in another language could trip on raises it.
inline constexpr int job_contract_version = 3;
// The AMQP header carrying it (an integer), so a worker can tell before parsing the body.
inline constexpr const char* contract_header = "x-jobsd-contract";
// The AMQP header carrying the job's W3C traceparent (a long string), jobsd's span as parent.
inline constexpr const char* traceparent_header = "traceparent";

struct job_message {
    std::string uuid;      // also the AMQP message_id, so consumers can dedupe
    std::string job_type;  // routing key and AMQP type
    std::string body;      // JSON, see make_job_message
    std::int64_t created_ms = 0;
    int attempt = 1;
    std::optional<std::int64_t> expires_at_ms;  // the job's deadline, if it has one
    std::string traceparent;                    // "" for a job stored before traces: no header
};

// Body: {"uuid","job_type","contract":3,"attempt","expires_at"?,"account_id","source_id",
// "session_id","version","input":{…},"created_at"}; `input` is the stored request text spliced
// in unchanged.
job_message make_job_message(const model::job& job);

// The properties a job message carries beyond the basic ones (content type, delivery mode,
// message id, type, timestamp): the contract header, the traceparent header when the job has
// one, and, for a job with a deadline, the per-message TTL left at publish time (at least 1 ms:
// RabbitMQ expires it at once and dead-letters it with reason `expired`). The properties point
// into this object and into `m`, so both must outlive the publish call.
class job_message_properties {
  public:
    job_message_properties(const job_message& m, std::int64_t now_ms);
    job_message_properties(const job_message_properties&) = delete;
    job_message_properties& operator=(const job_message_properties&) = delete;

    // Sets the headers and, if any, the expiration on `props` (and their flags).
    void apply(amqp_basic_properties_t& props);

  private:
    amqp_table_entry_t headers_[2]{};
    int header_count_ = 1;
    std::string expiration_;
};

}  // namespace jobsd::queue

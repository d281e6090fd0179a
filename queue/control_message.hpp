// Control messages of the contract (version 2): what jobsd tells the workers of a type about jobs
// they may hold. Exchange `jobs.control` (topic), routing key `<job_type>.<kind>`, one stream per
// type (`jobs.control.<type>`) that every worker process of the type reads. Today one kind:
// "cancel" stops `attempt` (and any earlier attempt) of the job wherever it runs, and tells any
// worker that gets it later not to run it. Pure code: text in, text out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/job_type.hpp"

namespace jobsd::queue {

inline constexpr std::string_view cancel_kind = "cancel";

struct control_message {
    std::string kind;  // "cancel"
    std::string uuid;
    std::string job_type;
    int attempt = 1;
    std::int64_t at_ms = 0;  // when jobsd recorded it
};

// The routing key, message id (stable across resends: "<kind>:<uuid>:<attempt>") and body
// {"kind","uuid","job_type","attempt","at"}.
std::string control_routing_key(const control_message& m);
std::string control_message_id(const control_message& m);
std::string control_body(const control_message& m);

// A body of any kind this build knows; nullopt for anything else (a newer kind, or garbage),
// which a worker acks and ignores.
std::optional<control_message> parse_control_message(std::string_view body);

}  // namespace jobsd::queue

// What every admin store adapter decides the same way, whatever its SQL dialect: which key a
// prefix revokes, how stored mapping fields read back, and which job columns a job is read from.
#pragma once

#include <boost/json/object.hpp>
#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace jobsd::store {

// The job columns both admin stores select, in the order their row readers expect.
inline constexpr std::string_view admin_job_columns =
    "seq, published, uuid, account_id, source_id, job_type, job_status, session_id, input, output, error, "
    "created_ms, updated_ms, version, progress, idempotency_key, request_hash";

// The key a revoke by prefix acts on: an error (unknown_key, ambiguous_prefix), or the hash of
// the one live key to revoke, or of the newest revoked one (revoking twice changes nothing).
struct revoke_choice {
    boost::system::error_code ec;
    std::string key_hash;
    bool already_revoked = false;
};

// `live` and `revoked` are the hashes of the keys with exactly that prefix, newest first.
revoke_choice choose_key_to_revoke(const std::vector<std::string>& live,
                                   const std::vector<std::string>& revoked);

// Stored mapping fields as an object; text that is not a JSON object reads as no fields.
boost::json::object parse_mapping_fields(std::string_view text);

}  // namespace jobsd::store

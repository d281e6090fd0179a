// What every admin store adapter decides the same way, whatever its SQL dialect: which key a
// prefix revokes and how stored mapping fields read back. (The job row and its columns are
// per dialect: store/sqlite_job_row.hpp, store/pg_job_row.hpp.)
#pragma once

#include <boost/json/object.hpp>
#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace jobsd::store {

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

// Expected failures of administrative store operations (bad references, clashes), as a
// Boost.System category, so the admin store returns them as values and the CLI words them.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace jobsd::store {

enum class admin_errc {
    unknown_account = 1,  // the account named does not exist
    unknown_key,          // no key has that prefix
    ambiguous_prefix,     // more than one live key has that prefix
    unknown_job,          // no job has that uuid
    account_exists,       // an account with that id exists already
    owned_elsewhere,      // the project or image prompt id belongs to another account
    not_running,          // the job is not STARTED or IN_PROGRESS
};

const boost::system::error_category& admin_category() noexcept;

inline boost::system::error_code make_error_code(admin_errc e) noexcept {
    return {static_cast<int>(e), admin_category()};
}

}  // namespace jobsd::store

template <>
struct boost::system::is_error_code_enum<jobsd::store::admin_errc> : std::true_type {};

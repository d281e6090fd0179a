// The store's failures as a Boost.System error category, so completions carry error_codes:
// expected outcomes and outages alike (store/store.hpp says which code means what).
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace jobsd::store {

enum class store_errc {
    closed = 1,   // the store is shutting down and takes no more work
    busy,         // the operation's queue is at its bound; the caller should shed load
    io,           // the database failed the operation, or its outcome is unknown (details are logged)
    duplicate,    // a row with the same key already exists
    unavailable,  // the database cannot be reached right now (an outage); nothing was done
};

const boost::system::error_category& store_category() noexcept;

inline boost::system::error_code make_error_code(store_errc e) noexcept {
    return {static_cast<int>(e), store_category()};
}

}  // namespace jobsd::store

template <>
struct boost::system::is_error_code_enum<jobsd::store::store_errc> : std::true_type {};

// The one place where a failure inside a handler becomes an HTTP answer.
//
// Error rule of server/: expected outcomes (bad input, not found, conflict, refusals) are
// responses returned by handlers. Infrastructure failures (a store or broker error code, an
// exception from a library) are thrown, as `upstream_failure` when there is an error code, and
// answered here: 503 with Retry-After for saturation, shutdown and outages, 500 for everything
// else. The body never carries internals; the log line names the request and the cause.
#pragma once

#include <boost/system/error_code.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include "server/http_types.hpp"

namespace jobsd::server {

class upstream_failure : public std::runtime_error {
  public:
    // `context` says what was being done ("read job <uuid>"); the code's message is appended.
    upstream_failure(boost::system::error_code ec, const std::string& context)
        : std::runtime_error(context + ": " + ec.message()), code_(ec) {}
    boost::system::error_code code() const noexcept { return code_; }

  private:
    boost::system::error_code code_;
};

// Throws upstream_failure when `ec` is set.
inline void throw_on_failure(boost::system::error_code ec, const std::string& context) {
    if (ec) throw upstream_failure(ec, context);
}

// True for the codes that mean "retry later": the store's queue is full, it is shutting down, or
// the database cannot be reached.
bool is_saturation(boost::system::error_code ec) noexcept;

// The answer to a failure thrown while handling `req` (identified in logs by `request_id`, its
// method and path; never its query string, which may hold what logs must not keep).
response answer_failure(std::exception_ptr failure, const request& req, std::string_view request_id);

}  // namespace jobsd::server

// Failures to answers: 503 for saturation and outages, 500 for the rest, logged once.
#include "server/error_boundary.hpp"

#include <spdlog/spdlog.h>

#include "store/store_error.hpp"

namespace jobsd::server {

bool is_saturation(boost::system::error_code ec) noexcept {
    return ec == store::store_errc::busy || ec == store::store_errc::closed ||
           ec == store::store_errc::unavailable;
}

response answer_failure(std::exception_ptr failure, const request& req, std::string_view request_id) {
    const auto target = req.target();
    const std::string path(target.substr(0, target.find('?')));
    const std::string method(req.method_string());
    try {
        std::rethrow_exception(failure);
    } catch (const upstream_failure& e) {
        if (is_saturation(e.code())) {
            // Routine under overload or during a restart, and one line per refused request would
            // flood the log exactly then: debug only (the 503s are counted in /metrics).
            spdlog::debug("request {}: {} {}: {}", request_id, method, path, e.what());
            auto res = message_response(http::status::service_unavailable, "Server is busy, retry later");
            res.set(http::field::retry_after, "1");
            return res;
        }
        spdlog::error("request {}: {} {}: {}", request_id, method, path, e.what());
    } catch (const std::exception& e) {
        spdlog::error("request {}: {} {}: {}", request_id, method, path, e.what());
    } catch (...) {
        spdlog::error("request {}: {} {}: unknown exception", request_id, method, path);
    }
    return message_response(http::status::internal_server_error, "Internal server error");
}

}  // namespace jobsd::server

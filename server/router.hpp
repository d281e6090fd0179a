// The route table: which handler a method and path reach, and 404 versus 405 when none does.
// Pure code over strings; no I/O.
#pragma once

#include <boost/beast/http/verb.hpp>

#include <ostream>

#include <string>
#include <string_view>

namespace jobsd::server {

enum class route {
    none,             // no route: 404
    wrong_method,     // a known path with another method: 405 with `allow`
    create_job,       // POST /jobs/v2
    get_job,          // GET /jobs/:id
    job_events,       // GET /jobs/v2/events?session_id=… (Server-Sent Events)
    active_projects,  // GET /api/provider/projects/active
    mapping_fields,   // GET /api/provider/projects/:projectId/mapping-fields
    healthz,          // GET /healthz
    readyz,           // GET /readyz
    queues,           // GET /api/queues (operator key)
    dashboard_data,   // GET /api/dashboard (operator key)
    dashboard_page,   // GET /dashboard and /dashboard/<file> (static; the data needs the key)
    metrics,          // GET /metrics (keep last: metrics sizes its tables by it)
};

struct route_match {
    route which = route::none;
    std::string_view param;  // :id, :projectId or the dashboard file, a view into the target
    std::string_view allow;  // for wrong_method: the value of the Allow header
};

// `target` is the request target; a query string is ignored.
route_match match_route(boost::beast::http::verb method, std::string_view target);

// The route's name in metrics labels.
std::string_view route_name(route r) noexcept;

// Whether a route needs an API key (every customer route does; health and metrics do not).
constexpr bool needs_api_key(route r) noexcept {
    return r == route::create_job || r == route::get_job || r == route::job_events ||
           r == route::active_projects || r == route::mapping_fields;
}

// Whether a route needs an operator key (customer keys are refused there).
constexpr bool needs_operator_key(route r) noexcept {
    return r == route::queues || r == route::dashboard_data;
}

}  // namespace jobsd::server

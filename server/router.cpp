// Paths are matched segment by segment; a HEAD is not served (405 like any other method).
#include "server/router.hpp"

namespace jobsd::server {

namespace http = boost::beast::http;

namespace {

struct path_match {
    route which = route::none;
    std::string_view param;
    http::verb method = http::verb::get;
    std::string_view allow = "GET";
};

path_match match_path(std::string_view path) {
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    if (path == "/jobs/v2") return {route::create_job, {}, http::verb::post, "POST"};
    if (path == "/jobs/v2/events") return {route::job_events, {}};
    if (path == "/healthz") return {route::healthz, {}};
    if (path == "/readyz") return {route::readyz, {}};
    if (path == "/metrics") return {route::metrics, {}};
    if (path == "/api/provider/projects/active") return {route::active_projects, {}};
    if (path == "/api/queues") return {route::queues, {}};
    if (path == "/api/dashboard") return {route::dashboard_data, {}};
    if (path == "/dashboard") return {route::dashboard_page, "index.html"};
    constexpr std::string_view dashboard = "/dashboard/";
    if (path.starts_with(dashboard)) {
        const auto file = path.substr(dashboard.size());
        if (file.find('/') == std::string_view::npos) return {route::dashboard_page, file};
    }
    constexpr std::string_view jobs = "/jobs/";
    if (path.starts_with(jobs)) {
        const auto id = path.substr(jobs.size());
        if (!id.empty() && id.find('/') == std::string_view::npos) return {route::get_job, id};
    }
    constexpr std::string_view projects = "/api/provider/projects/";
    constexpr std::string_view fields = "/mapping-fields";
    if (path.starts_with(projects) && path.ends_with(fields) &&
        path.size() > projects.size() + fields.size()) {
        const auto id = path.substr(projects.size(), path.size() - projects.size() - fields.size());
        if (id.find('/') == std::string_view::npos) return {route::mapping_fields, id};
    }
    return {};
}

}  // namespace

std::string_view route_name(route r) noexcept {
    switch (r) {
        case route::none:
            return "unknown";
        case route::wrong_method:
            return "wrong_method";
        case route::create_job:
            return "create_job";
        case route::get_job:
            return "get_job";
        case route::job_events:
            return "job_events";
        case route::active_projects:
            return "active_projects";
        case route::mapping_fields:
            return "mapping_fields";
        case route::healthz:
            return "healthz";
        case route::readyz:
            return "readyz";
        case route::queues:
            return "queues";
        case route::dashboard_data:
            return "dashboard_data";
        case route::dashboard_page:
            return "dashboard_page";
        case route::metrics:
            return "metrics";
    }
    return "unknown";
}

route_match match_route(http::verb method, std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    const path_match m = match_path(path);
    if (m.which == route::none) return {};
    if (method != m.method) return {route::wrong_method, {}, m.allow};
    return {m.which, m.param, {}};
}

}  // namespace jobsd::server

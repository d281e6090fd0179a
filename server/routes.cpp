// The route table. A new route is a row here plus its handler in server/handlers/; the router,
// admission, dispatch and per-route metrics all read this table.
#include "server/routes.hpp"

#include <array>

#include "server/handlers/docs_routes.hpp"
#include "server/handlers/health_routes.hpp"
#include "server/handlers/job_batch.hpp"
#include "server/handlers/job_events.hpp"
#include "server/handlers/job_list.hpp"
#include "server/handlers/job_routes.hpp"
#include "server/handlers/lifecycle_routes.hpp"
#include "server/handlers/operator_routes.hpp"
#include "server/handlers/project_routes.hpp"
#include "server/handlers/webhook_routes.hpp"

namespace jobsd::server {

namespace {

using http::verb;
namespace h = handlers;

// clang-format off
constexpr std::array table{
    //    name               method     pattern                                          who                   header check          handler
    route{"create_job",      verb::post, "/jobs/v2",                                      access::customer_key, h::check_create_job,  h::create_job},
    route{"list_jobs",       verb::get,  "/jobs/v2",                                      access::customer_key, nullptr,              h::list_jobs},
    route{"create_batch",    verb::post, "/jobs/v2/batch",                                access::customer_key, h::check_create_batch, h::create_batch, nullptr, &server_options::batch_body_limit},
    route{"get_job",         verb::get,  "/jobs/:id",                                     access::customer_key, nullptr,              h::get_job},
    route{"cancel_job",      verb::post, "/jobs/:id/cancel",                              access::customer_key, h::check_optional_body, h::cancel_job, nullptr, &server_options::control_body_limit},
    route{"retry_job",       verb::post, "/jobs/:id/retry",                               access::customer_key, h::check_optional_body, h::retry_job, nullptr, &server_options::control_body_limit},
    route{"job_events",      verb::get,  "/jobs/v2/events",                               access::customer_key, nullptr,              nullptr, h::job_events},
    route{"active_projects", verb::get,  "/api/provider/projects/active",                 access::customer_key, nullptr,              h::active_projects},
    route{"mapping_fields",  verb::get,  "/api/provider/projects/:projectId/mapping-fields", access::customer_key, nullptr,           h::mapping_fields},
    route{"healthz",         verb::get,  "/healthz",                                      access::anyone,       nullptr,              h::healthz},
    route{"readyz",          verb::get,  "/readyz",                                       access::anyone,       nullptr,              h::readyz},
    route{"queues",          verb::get,  "/api/queues",                                   access::operator_key, nullptr,              h::queues},
    route{"dashboard_data",  verb::get,  "/api/dashboard",                                access::operator_key, nullptr,              h::dashboard_data},
    route{"dashboard_page",  verb::get,  "/dashboard/:file?",                             access::anyone,       nullptr,              h::dashboard_page},
    route{"metrics",         verb::get,  "/metrics",                                      access::anyone,       nullptr,              h::metrics_page},
    route{"create_webhook",  verb::post, "/api/webhooks",                                 access::customer_key, h::check_webhook_body, h::create_webhook},
    route{"list_webhooks",   verb::get,  "/api/webhooks",                                 access::customer_key, nullptr,              h::list_webhooks},
    route{"delete_webhook",  verb::delete_, "/api/webhooks/:id",                          access::customer_key, nullptr,              h::delete_webhook},
    route{"webhook_deliveries", verb::get, "/api/webhooks/:id/deliveries",                access::customer_key, nullptr,              h::webhook_deliveries},
    route{"redeliver_webhook", verb::post, "/api/webhooks/deliveries/:id/redeliver",      access::customer_key, nullptr,              h::redeliver_webhook},
    route{"webhook_secret",  verb::get,  "/api/webhooks/default/secret",                  access::customer_key, nullptr,              h::default_webhook_secret},
    route{"rotate_webhook_secret", verb::post, "/api/webhooks/:id/rotate-secret",         access::customer_key, nullptr,              h::rotate_webhook_secret},
    route{"openapi",         verb::get,  "/openapi.json",                                 access::anyone,       nullptr,              h::openapi_document},
    route{"docs_page",       verb::get,  "/docs/:file?",                                  access::anyone,       nullptr,              h::docs_page},
};
// clang-format on

}  // namespace

std::span<const route> route_table() noexcept {
    return table;
}

}  // namespace jobsd::server

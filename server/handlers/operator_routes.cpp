// Thin: each route asks the operator views for its answer.
#include "server/handlers/operator_routes.hpp"

#include "server/services.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;

asio::awaitable<response> queues(const request_context& ctx) {
    co_return co_await ctx.svc.operator_views.queues();
}

asio::awaitable<response> dashboard_data(const request_context& ctx) {
    co_return co_await ctx.svc.operator_views.dashboard_data();
}

asio::awaitable<response> dashboard_page(const request_context& ctx) {
    co_return ctx.svc.operator_views.dashboard_page(ctx.param);
}

}  // namespace jobsd::server::handlers

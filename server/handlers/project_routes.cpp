// Active projects are sorted by name, then id, so clients that page or diff see a stable order.
#include "server/handlers/project_routes.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <tuple>
#include <vector>

#include "model/clock.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::value optional_date(const std::optional<std::int64_t>& ms) {
    if (!ms) return nullptr;
    return json::value(model::format_iso8601(*ms));
}

}  // namespace

asio::awaitable<response> active_projects(const request_context& ctx) {
    const auto now = model::now_ms();
    std::vector<const model::project*> active;
    for (const auto& [id, p] : ctx.who.catalog->projects)
        if (p.account_id == ctx.who.account_id && p.active_at(now)) active.push_back(&p);
    std::sort(active.begin(), active.end(), [](const auto* l, const auto* r) {
        return std::tie(l->name, l->id) < std::tie(r->name, r->id);
    });
    json::array data;
    for (const auto* p : active)
        data.push_back(json::object{{"projectId", p->id},
                                    {"projectName", p->name},
                                    {"projectType", p->type},
                                    {"startDate", optional_date(p->start_ms)},
                                    {"endDate", optional_date(p->end_ms)}});
    co_return json_response(http::status::ok,
                            json::serialize(json::object{{"message", "Success"}, {"data", data}}));
}

asio::awaitable<response> mapping_fields(const request_context& ctx) {
    const auto* p = ctx.who.catalog->find_project(ctx.who.account_id, std::string(ctx.param));
    if (!p) co_return message_response(http::status::not_found, "Project not found");
    json::object data{{"projectId", p->id},
                      {"projectName", p->name},
                      {"projectType", p->type},
                      {"fields", p->mapping_fields},
                      {"fetchedAt", model::format_iso8601(model::now_ms())}};
    co_return json_response(http::status::ok,
                            json::serialize(json::object{{"message", "Success"}, {"data", data}}));
}

}  // namespace jobsd::server::handlers

// Static answers from the embedded files; revalidated (no-cache) so a new jobsd's reference is
// picked up at once. The page carries the browser pages' security headers (its own origin only).
#include "server/handlers/docs_routes.hpp"

#include "server/docs_assets.hpp"

namespace jobsd::server::handlers {

namespace asio = boost::asio;

namespace {

response asset_response(const dashboard_asset& asset, bool page) {
    response res{http::status::ok, 11};
    res.set(http::field::content_type, asset.content_type);
    res.set(http::field::cache_control, "no-cache");
    if (page) set_page_security_headers(res);
    res.body() = std::string(asset.body);
    res.prepare_payload();
    return res;
}

}  // namespace

asio::awaitable<response> openapi_document(const request_context&) {
    co_return asset_response(*find_docs_asset("openapi.json"), false);
}

asio::awaitable<response> docs_page(const request_context& ctx) {
    const auto name = ctx.param.empty() ? std::string_view("index.html") : ctx.param;
    // The document has its own route; /docs/ serves the page's files only.
    auto asset = name == "openapi.json" ? std::nullopt : find_docs_asset(name);
    if (!asset) co_return message_response(http::status::not_found, "Not found");
    co_return asset_response(*asset, true);
}

}  // namespace jobsd::server::handlers

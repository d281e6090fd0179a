// Every route of the route table is in the OpenAPI document jobsd serves, with its method, and
// the document describes no route the table lacks: the description cannot drift from the code.
// (tests/openapi/conformance.py then checks each operation's answers against a running jobsd.)
#define BOOST_TEST_MODULE openapi_routes
#include <boost/test/unit_test.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json/parse.hpp>

#include <set>
#include <string>

#include "server/docs_assets.hpp"
#include "server/routes.hpp"

namespace json = boost::json;

namespace {

// "/jobs/:id" -> "/jobs/{id}"; an optional last segment "/docs/:file?" gives both "/docs" and
// "/docs/{file}".
std::set<std::string> document_paths(std::string_view pattern) {
    std::string path, optional;
    std::size_t i = 0;
    while (i < pattern.size()) {
        const auto next = pattern.find('/', i + 1);
        auto seg =
            pattern.substr(i + 1, next == std::string_view::npos ? std::string_view::npos : next - i - 1);
        if (seg.starts_with(':')) {
            const bool opt = seg.ends_with('?');
            seg.remove_prefix(1);
            if (opt) seg.remove_suffix(1);
            if (opt) optional = path;
            path += "/{" + std::string(seg) + "}";
        } else {
            path += "/" + std::string(seg);
        }
        if (next == std::string_view::npos) break;
        i = next;
    }
    std::set<std::string> out{path};
    if (!optional.empty()) out.insert(optional);
    return out;
}

std::set<std::string> table_operations() {
    std::set<std::string> ops;
    for (const auto& r : jobsd::server::route_table())
        for (const auto& p : document_paths(r.pattern)) {
            std::string method(boost::beast::http::to_string(r.method));
            for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            ops.insert(method + " " + p);
        }
    return ops;
}

std::set<std::string> document_operations() {
    auto asset = jobsd::server::find_docs_asset("openapi.json");
    BOOST_TEST_REQUIRE(asset.has_value(), "openapi.json is not embedded");
    const auto doc = json::parse(asset->body);
    std::set<std::string> ops;
    for (const auto& [path, item] : doc.at("paths").as_object())
        for (const auto& [method, op] : item.as_object())
            ops.insert(std::string(method) + " " + std::string(path));
    return ops;
}

}  // namespace

BOOST_AUTO_TEST_CASE(optional_segments_give_two_paths) {
    BOOST_TEST(document_paths("/jobs/:id") == std::set<std::string>{"/jobs/{id}"});
    BOOST_TEST(document_paths("/docs/:file?") == (std::set<std::string>{"/docs", "/docs/{file}"}));
    BOOST_TEST(document_paths("/api/provider/projects/:projectId/mapping-fields") ==
               std::set<std::string>{"/api/provider/projects/{projectId}/mapping-fields"});
}

BOOST_AUTO_TEST_CASE(every_route_is_described_and_nothing_else) {
    const auto table = table_operations();
    const auto doc = document_operations();
    for (const auto& op : table)
        BOOST_TEST(doc.count(op) == 1u, op << " is a route but not in openapi/openapi.json");
    for (const auto& op : doc)
        BOOST_TEST(table.count(op) == 1u, op << " is in openapi/openapi.json but not a route");
}

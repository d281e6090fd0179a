// libFuzzer target: the request path from raw bytes, without sockets: Beast's parser with the
// server's limits, the framing checks, the router over a table with every pattern form the server
// uses (literal, `:param`, optional last `:param?`, a literal beside a parameter), then the
// create-job validation of the body. Run: fuzz_request_path -max_total_time=600 DIR
// tests/fuzz/corpus/request_path
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

#include "model/create_request.hpp"
#include "server/http_framing.hpp"
#include "server/router.hpp"

namespace http = boost::beast::http;

namespace {

using http::verb;
using jobsd::server::route;

// The router is what is fuzzed here, not the handlers: rows without handlers, so the target links
// without the server.
constexpr std::array patterns{
    route{"create", verb::post, "/jobs/v2"},
    route{"get", verb::get, "/jobs/:id"},
    route{"cancel", verb::post, "/jobs/:id/cancel"},  // a literal after a parameter, beside /jobs/:id
    route{"events", verb::get, "/jobs/v2/events"},
    route{"fields", verb::get, "/api/provider/projects/:projectId/mapping-fields"},
    route{"page", verb::get, "/dashboard/:file?"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Several requests may follow each other on one connection, as on keep-alive.
    std::size_t offset = 0;
    for (int requests = 0; requests < 8 && offset < size; ++requests) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(16 * 1024);
        parser.body_limit(64 * 1024);
        parser.eager(true);
        boost::beast::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
        if (ec && ec != http::error::need_more) return 0;
        offset += used;
        if (!parser.is_header_done()) return 0;
        const auto& header = parser.get().base();
        if (!jobsd::server::framing_problem(header).empty()) return 0;
        (void)jobsd::server::match_route(patterns, header.method(), header.target());
        if (!parser.is_done()) {
            parser.put_eof(ec);
            if (ec || !parser.is_done()) return 0;
        }
        (void)jobsd::model::parse_create_request(parser.get().body());
        if (used == 0) return 0;
    }
    return 0;
}

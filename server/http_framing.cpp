// Field names are compared by Beast's field enum, values case-insensitively after trimming.
#include "server/http_framing.hpp"

#include <boost/beast/core/string.hpp>

#include "server/header_lookup.hpp"

namespace jobsd::server {

namespace http = boost::beast::http;

std::string_view framing_problem(const http::request_header<>& header) {
    std::size_t lengths = 0, encodings = 0, hosts = 0;
    std::string_view encoding;
    for (const auto& f : header) {
        switch (f.name()) {
            case http::field::content_length:
                ++lengths;
                break;
            case http::field::transfer_encoding:
                ++encodings;
                encoding = trim_ows(f.value());
                break;
            case http::field::host:
                ++hosts;
                break;
            default:
                break;
        }
    }
    if (lengths > 0 && encodings > 0) return "Content-Length and Transfer-Encoding together";
    if (lengths > 1) return "more than one Content-Length";
    if (encodings > 1) return "more than one Transfer-Encoding";
    if (encodings == 1 && !boost::beast::iequals(encoding, "chunked"))
        return "Transfer-Encoding other than chunked";
    if (encodings == 1 && header.version() < 11) return "chunked Transfer-Encoding on HTTP/1.0";
    if (header.version() >= 11 && hosts != 1)
        return hosts == 0 ? "HTTP/1.1 request without Host" : "more than one Host";
    return {};
}

}  // namespace jobsd::server

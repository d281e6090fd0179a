#include "server/message_head.hpp"

namespace jobsd::server {

namespace {

template <class Fields>
std::size_t fields_size(const Fields& fields) {
    std::size_t size = 2;
    for (const auto& field : fields) size += field.name_string().size() + field.value().size() + 4;
    return size;
}

template <class Fields>
void append_fields(std::string& out, const Fields& fields) {
    for (const auto& field : fields) {
        const auto name = field.name_string();
        const auto value = field.value();
        out.append(name.data(), name.size());
        out += ": ";
        out.append(value.data(), value.size());
        out += "\r\n";
    }
    out += "\r\n";
}

}  // namespace

std::string response_head(const response& res) {
    const auto reason = res.reason();
    std::string out;
    out.reserve(18 + reason.size() + fields_size(res.base()));
    out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    const unsigned code = res.result_int();
    out += static_cast<char>('0' + code / 100 % 10);
    out += static_cast<char>('0' + code / 10 % 10);
    out += static_cast<char>('0' + code % 10);
    out += ' ';
    out.append(reason.data(), reason.size());
    out += "\r\n";
    append_fields(out, res.base());
    return out;
}

std::string request_head(const http::request<http::string_body>& req) {
    const auto method = req.method_string();
    const auto target = req.target();
    std::string out;
    out.reserve(method.size() + target.size() + 12 + fields_size(req.base()));
    out.append(method.data(), method.size());
    out += ' ';
    out.append(target.data(), target.size());
    out += req.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
    append_fields(out, req.base());
    return out;
}

}  // namespace jobsd::server

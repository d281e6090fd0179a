#include "server/response_head.hpp"

namespace jobsd::server {

std::string response_head(const response& res) {
    const auto reason = res.reason();
    std::size_t size = 20 + reason.size();
    for (const auto& field : res.base()) size += field.name_string().size() + field.value().size() + 4;
    std::string out;
    out.reserve(size);
    out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    const unsigned code = res.result_int();
    out += static_cast<char>('0' + code / 100 % 10);
    out += static_cast<char>('0' + code / 10 % 10);
    out += static_cast<char>('0' + code % 10);
    out += ' ';
    out.append(reason.data(), reason.size());
    out += "\r\n";
    for (const auto& field : res.base()) {
        const auto name = field.name_string();
        const auto value = field.value();
        out.append(name.data(), name.size());
        out += ": ";
        out.append(value.data(), value.size());
        out += "\r\n";
    }
    out += "\r\n";
    return out;
}

}  // namespace jobsd::server

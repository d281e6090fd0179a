// Table layout and JSON writing.
#include "admin/output.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <ostream>

#include "model/clock.hpp"

namespace jobsd::admin {

void write_table(std::ostream& out, const table_row& header, const std::vector<table_row>& rows) {
    if (rows.empty()) {
        out << "(none)\n";
        return;
    }
    std::vector<std::size_t> width(header.size(), 0);
    auto measure = [&](const table_row& r) {
        for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
            width[i] = std::max(width[i], r[i].size());
    };
    measure(header);
    for (const auto& r : rows) measure(r);
    auto line = [&](const table_row& r) {
        std::string text;
        for (std::size_t i = 0; i < r.size(); ++i) {
            text += r[i];
            if (i + 1 < r.size()) text += std::string(width[i] - r[i].size() + 2, ' ');
        }
        out << text << "\n";
    };
    line(header);
    for (const auto& r : rows) line(r);
}

void write_json(std::ostream& out, const boost::json::value& value) {
    out << boost::json::serialize(value) << "\n";
}

std::string time_text(std::optional<std::int64_t> ms) {
    return ms ? model::format_iso8601(*ms) : "-";
}

boost::json::value time_json(std::optional<std::int64_t> ms) {
    if (!ms) return nullptr;
    return boost::json::value(model::format_iso8601(*ms));
}

}  // namespace jobsd::admin

// How jobsctl prints: aligned columns for people, one JSON document for scripts (--json).
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace jobsd::admin {

using table_row = std::vector<std::string>;

// Columns padded to their widest cell, the header first; "(none)" for no rows.
void write_table(std::ostream& out, const table_row& header, const std::vector<table_row>& rows);

// The value on one line.
void write_json(std::ostream& out, const boost::json::value& value);

// ISO-8601 UTC, or "-" for nothing.
std::string time_text(std::optional<std::int64_t> ms);

// ISO-8601 UTC as JSON, or null.
boost::json::value time_json(std::optional<std::int64_t> ms);

}  // namespace jobsd::admin

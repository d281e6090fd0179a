// Request header lookups by a walk of the field list. A request carries a handful of fields, and
// Beast's own lookups (operator[], count) search its tree of them with case-insensitive string
// comparisons, several hundred instructions each; a create looked up nine. The walk compares a
// known field by Beast's enum and any other name with beast::iequals (lengths first). Same
// answers: the first field of that name in the order received, or "" when there is none.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/fields.hpp>

#include <cstddef>
#include <string_view>

namespace jobsd::server {

// The value of the first field `f` (not field::unknown), or "".
std::string_view header_value(const boost::beast::http::fields& h, boost::beast::http::field f) noexcept;
// The value of the first field named `name` (any letter case), or "".
std::string_view header_value(const boost::beast::http::fields& h, std::string_view name) noexcept;
// How many fields are named `name` (any letter case).
std::size_t header_count(const boost::beast::http::fields& h, std::string_view name) noexcept;

// `s` without the spaces and tabs around it (RFC 9110's optional whitespace), as a field's value
// or a part of one (a parameter of Content-Type) is compared.
std::string_view trim_ows(std::string_view s) noexcept;

}  // namespace jobsd::server

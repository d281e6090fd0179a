#include "store/pg_binary_array.hpp"

#include <bit>
#include <cassert>
#include <utility>

namespace jobsd::store {

namespace {

constexpr std::size_t header_size = 20;  // ndim, flags, element type, length, lower bound

void write32(char* at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) at[i] = static_cast<char>(v >> (24 - 8 * i));
}

}  // namespace

pg_binary_array::pg_binary_array(pg_element type) : type_(type), out_(header_size, '\0') {}

void pg_binary_array::put32(std::uint32_t v) {
    char b[4];
    write32(b, v);
    out_.append(b, 4);
}

void pg_binary_array::put64(std::uint64_t v) {
    put32(static_cast<std::uint32_t>(v >> 32));
    put32(static_cast<std::uint32_t>(v));
}

void pg_binary_array::add_text(std::string_view text) {
    assert(type_ == pg_element::text);
    put32(static_cast<std::uint32_t>(text.size()));
    out_.append(text);
    ++count_;
}

void pg_binary_array::add_int(std::optional<std::int64_t> v) {
    assert(type_ == pg_element::int8);
    if (!v) {
        put32(0xffffffffu);  // -1: NULL
        has_null_ = true;
    } else {
        put32(8);
        put64(static_cast<std::uint64_t>(*v));
    }
    ++count_;
}

void pg_binary_array::add_float(std::optional<double> v) {
    assert(type_ == pg_element::float8);
    if (!v) {
        put32(0xffffffffu);
        has_null_ = true;
    } else {
        put32(8);
        put64(std::bit_cast<std::uint64_t>(*v));
    }
    ++count_;
}

pg_param pg_binary_array::take() {
    char* h = out_.data();
    write32(h, 1);  // one dimension
    write32(h + 4, has_null_ ? 1 : 0);
    write32(h + 8, static_cast<std::uint32_t>(type_));
    write32(h + 12, count_);
    write32(h + 16, 1);  // lower bound, as SQL's arrays start
    return pg_param(std::move(out_), true);
}

}  // namespace jobsd::store

// One-dimensional PostgreSQL arrays in the binary form the server's array_recv reads, for the
// parameters that carry a write batch's columns (`unnest($3::text[], …)`): the server copies
// each element as it is, with no literal to parse and nothing escaped on either side.
//
// The form (PostgreSQL's arrayfuncs.c, array_send): dimensions, a has-nulls flag, the element
// type's OID, then per dimension its length and lower bound, then per element its length in
// bytes (-1 for NULL) and its bytes; integers in network order, a float8 as its IEEE bits.
//
// Thread safety: none; an array is built by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/pg_connection.hpp"

namespace jobsd::store {

// The element types the adapter sends, as their pg_type OIDs (fixed since PostgreSQL 7).
enum class pg_element : std::uint32_t { int8 = 20, text = 25, float8 = 701 };

class pg_binary_array {
  public:
    explicit pg_binary_array(pg_element type);

    // Appends an element; the overload must match the array's element type.
    void add_text(std::string_view text);
    void add_int(std::optional<std::int64_t> v);  // nullopt is NULL
    void add_float(std::optional<double> v);      // nullopt is NULL

    // The array as a binary parameter; the builder is left empty and must not be used again.
    pg_param take();

  private:
    void put32(std::uint32_t v);
    void put64(std::uint64_t v);

    pg_element type_;
    std::string out_;
    std::uint32_t count_ = 0;
    bool has_null_ = false;
};

}  // namespace jobsd::store

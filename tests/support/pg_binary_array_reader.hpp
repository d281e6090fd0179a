// Reads a one-dimensional array in PostgreSQL's binary form as the server's array_recv does, for
// tests of what the adapter sends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobsd::test {

struct pg_binary_array_read {
    bool has_nulls = false;                            // the header's flag
    std::vector<std::optional<std::string>> elements;  // nullopt for NULL
};

// Throws std::runtime_error when `bytes` is not a one-dimensional array of `element_oid` with
// lower bound 1, or holds more or fewer bytes than its elements say.
pg_binary_array_read read_pg_binary_array(std::string_view bytes, std::uint32_t element_oid);

}  // namespace jobsd::test

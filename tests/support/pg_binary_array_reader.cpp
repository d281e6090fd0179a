#include "tests/support/pg_binary_array_reader.hpp"

#include <stdexcept>

namespace jobsd::test {

pg_binary_array_read read_pg_binary_array(std::string_view bytes, std::uint32_t element_oid) {
    std::size_t at = 0;
    const auto int32 = [&] {
        if (bytes.size() - at < 4) throw std::runtime_error("array ends inside an integer");
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at++]);
        return v;
    };
    if (int32() != 1) throw std::runtime_error("not one dimension");
    const std::uint32_t flags = int32();
    if (flags > 1) throw std::runtime_error("flags neither 0 nor 1");
    if (int32() != element_oid) throw std::runtime_error("another element type");
    const std::uint32_t n = int32();
    if (int32() != 1) throw std::runtime_error("lower bound not 1");
    pg_binary_array_read out;
    out.has_nulls = flags == 1;
    for (std::uint32_t i = 0; i < n; ++i) {
        const std::uint32_t len = int32();
        if (len == 0xffffffffu) {
            out.elements.emplace_back(std::nullopt);
            continue;
        }
        if (bytes.size() - at < len) throw std::runtime_error("array ends inside an element");
        out.elements.emplace_back(std::string(bytes.substr(at, len)));
        at += len;
    }
    if (at != bytes.size()) throw std::runtime_error("bytes after the last element");
    return out;
}

}  // namespace jobsd::test

// PostgreSQL's binary array form as the adapter writes it (store/pg_binary_array.hpp), read back
// the way the server's array_recv reads it. That the server takes it is the store contract's
// business (creates_written_together_keep_every_field runs against the test cluster).
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "store/pg_binary_array.hpp"
#include "tests/support/pg_binary_array_reader.hpp"

using namespace jobsd::store;
using jobsd::test::read_pg_binary_array;

BOOST_AUTO_TEST_SUITE(pg_binary_array_form)

BOOST_AUTO_TEST_CASE(text_elements_travel_as_their_bytes) {
    pg_binary_array a(pg_element::text);
    const std::vector<std::string> items{"plain", "", R"("q" \ {a,b})", "NULL", "é 日本"};
    for (const auto& t : items) a.add_text(t);
    const pg_param p = a.take();
    BOOST_TEST(p.binary);
    BOOST_TEST_REQUIRE(p.value.has_value());
    const auto got = read_pg_binary_array(*p.value, 25);
    BOOST_TEST_REQUIRE(got.elements.size() == items.size());
    BOOST_TEST(!got.has_nulls);
    for (std::size_t i = 0; i < items.size(); ++i) {
        BOOST_TEST_REQUIRE(got.elements[i].has_value());
        BOOST_TEST(*got.elements[i] == items[i]);
    }
}

BOOST_AUTO_TEST_CASE(integers_are_eight_bytes_in_network_order_and_nulls_are_flagged) {
    pg_binary_array a(pg_element::int8);
    a.add_int(1);
    a.add_int(std::nullopt);
    a.add_int(-2);
    a.add_int(std::numeric_limits<std::int64_t>::min());
    const pg_param p = a.take();
    const auto got = read_pg_binary_array(*p.value, 20);
    BOOST_TEST(got.has_nulls);
    BOOST_TEST_REQUIRE(got.elements.size() == 4u);
    BOOST_TEST((*got.elements[0] == std::string("\0\0\0\0\0\0\0\x01", 8)));
    BOOST_TEST(!got.elements[1].has_value());
    BOOST_TEST((*got.elements[2] == std::string("\xff\xff\xff\xff\xff\xff\xff\xfe", 8)));
    BOOST_TEST((*got.elements[3] == std::string("\x80\0\0\0\0\0\0\0", 8)));
}

BOOST_AUTO_TEST_CASE(floats_are_their_ieee_bits_in_network_order) {
    pg_binary_array a(pg_element::float8);
    a.add_float(-0.125);
    a.add_float(std::nullopt);
    const auto got = read_pg_binary_array(*a.take().value, 701);
    BOOST_TEST(got.has_nulls);
    BOOST_TEST_REQUIRE(got.elements.size() == 2u);
    BOOST_TEST_REQUIRE(got.elements[0].has_value());
    std::uint64_t bits = 0;
    for (unsigned char c : *got.elements[0]) bits = bits << 8 | c;
    BOOST_TEST(std::bit_cast<double>(bits) == -0.125);
    BOOST_TEST(bits == 0xbfc0000000000000ull);  // sign, exponent 1020, no fraction
}

BOOST_AUTO_TEST_CASE(an_empty_array_has_one_dimension_of_length_zero) {
    pg_binary_array a(pg_element::text);
    const auto got = read_pg_binary_array(*a.take().value, 25);
    BOOST_TEST(got.elements.empty());
    BOOST_TEST(!got.has_nulls);
}

BOOST_AUTO_TEST_SUITE_END()

// libFuzzer target: the JSON validation of POST /jobs/v2 alone (strict JSON pass, parse,
// field rules), from raw bytes; and the one-pass strict parse held to the two passes it replaces
// (the same problem, or the tree boost::json::parse builds). Run: fuzz_create_request
// -max_total_time=600 DIR tests/fuzz/corpus/create_request
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

#include "model/create_request.hpp"
#include "model/strict_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto problem = jobsd::model::strict_json_problem(body);
    const auto strict = jobsd::model::parse_strict_json(body);
    if (strict.problem != problem) __builtin_trap();
    if (problem.empty()) {
        std::error_code ec;
        const auto doc = boost::json::parse(body, ec);
        if (ec || doc != strict.doc) __builtin_trap();
    }
    auto parsed = jobsd::model::parse_create_request(body);
    if (auto* req = std::get_if<jobsd::model::create_request>(&parsed)) {
        jobsd::model::catalog cat;
        (void)jobsd::model::resolve_source(cat, "acc", *req, 0);
    }
    return 0;
}

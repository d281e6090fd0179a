// What reached the queues against what was answered 201: the jobs never delivered, those delivered
// more than once (at-least-once allows it) and those no case posted.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tests/support/amqp_client.hpp"

namespace jobsd::test {

struct delivery_report {
    std::vector<std::string> missing;     // accepted, never delivered
    std::vector<std::string> duplicated;  // delivered more than once, as "<uuid> x<n>"
    std::vector<std::string> unexpected;  // delivered, never accepted
};

// Matches messages to accepted uuids by their message id.
delivery_report compare_deliveries(const std::vector<std::string>& accepted,
                                   const std::vector<received>& got);

// The first `n` entries, comma separated, with "…" when there are more (for failure messages).
std::string first_few(const std::vector<std::string>& v, std::size_t n = 10);

}  // namespace jobsd::test

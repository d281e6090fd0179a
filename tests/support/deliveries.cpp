// Comparing deliveries with acceptances (deliveries.hpp).
#include "tests/support/deliveries.hpp"

#include <map>
#include <set>

namespace jobsd::test {

delivery_report compare_deliveries(const std::vector<std::string>& accepted,
                                   const std::vector<received>& got) {
    std::map<std::string, int> seen;
    for (const auto& m : got) ++seen[m.message_id];
    const std::set<std::string> expected(accepted.begin(), accepted.end());
    delivery_report r;
    for (const auto& uuid : expected)
        if (!seen.count(uuid)) r.missing.push_back(uuid);
    for (const auto& [id, n] : seen) {
        if (n > 1) r.duplicated.push_back(id + " x" + std::to_string(n));
        if (!expected.count(id)) r.unexpected.push_back(id);
    }
    return r;
}

std::string first_few(const std::vector<std::string>& v, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < n; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > n) out += ", …";
    return out;
}

}  // namespace jobsd::test

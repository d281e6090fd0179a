#include "tests/support/test_failure.hpp"

#include <boost/test/framework.hpp>
#include <boost/test/results_collector.hpp>
#include <boost/test/tree/test_unit.hpp>

#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>

namespace jobsd::test {

bool test_failing() noexcept {
    if (std::uncaught_exceptions() > 0) return true;
    try {
        namespace ut = boost::unit_test;
        if (!ut::framework::test_in_progress()) return false;
        return !ut::results_collector.results(ut::framework::current_test_case().p_id).passed();
    } catch (...) {
        return false;
    }
}

void print_log_tail(const std::filesystem::path& log, std::size_t lines) noexcept {
    try {
        std::ifstream in(log);
        std::deque<std::string> tail;
        for (std::string line; std::getline(in, line);) {
            tail.push_back(std::move(line));
            if (tail.size() > lines) tail.pop_front();
        }
        std::cerr << "---- the last " << tail.size() << " lines of " << log.string() << " ----\n";
        for (const auto& line : tail) std::cerr << line << '\n';
        std::cerr << "---- end of " << log.filename().string() << " ----" << std::endl;
    } catch (...) {
    }
}

}  // namespace jobsd::test

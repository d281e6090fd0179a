// Remembers each variable's value before overwriting it; restores in reverse order, so a name
// given twice ends as it began.
#include "tests/support/scoped_env.hpp"

#include <cstdlib>

namespace jobsd::test {

scoped_env::scoped_env(env_list vars) {
    for (auto& [name, value] : vars) {
        const char* before = std::getenv(name.c_str());
        previous_.emplace_back(name, before ? std::optional<std::string>(before) : std::nullopt);
        ::setenv(name.c_str(), value.c_str(), 1);
    }
}

scoped_env::scoped_env(scoped_env&& other) noexcept : previous_(std::move(other.previous_)) {
    other.previous_.clear();
}

scoped_env::~scoped_env() {
    for (auto it = previous_.rbegin(); it != previous_.rend(); ++it) {
        if (it->second)
            ::setenv(it->first.c_str(), it->second->c_str(), 1);
        else
            ::unsetenv(it->first.c_str());
    }
}

}  // namespace jobsd::test

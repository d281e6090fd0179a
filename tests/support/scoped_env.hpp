// Environment variables set for the children a test starts while the scope lives (jobsd reads
// JOBSD_<SECTION>_<KEY> overrides from its environment), then put back as they were.
//
// Thread safety: setenv is not thread-safe; create and destroy these on the test's main thread
// while no other thread starts a child.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobsd::test {

using env_list = std::vector<std::pair<std::string, std::string>>;

class scoped_env {
  public:
    explicit scoped_env(env_list vars);
    ~scoped_env();  // restores each variable's previous value, or unsets it
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;
    scoped_env(scoped_env&& other) noexcept;
    scoped_env& operator=(scoped_env&&) = delete;

  private:
    std::vector<std::pair<std::string, std::optional<std::string>>> previous_;
};

}  // namespace jobsd::test

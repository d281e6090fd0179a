// Whether the Boost.Test case running now has failed, so the support's destructors can keep what
// explains the failure (a jobsd log, a work directory) instead of deleting it.
#pragma once

#include <filesystem>

namespace jobsd::test {

// True when the running test case has a failed check, or an exception is unwinding through the
// caller (it will fail the case once it reaches Boost.Test). False outside a test case.
bool test_failing() noexcept;

// Prints the last `lines` lines of `log` to stderr under a heading naming it, for CI's output.
void print_log_tail(const std::filesystem::path& log, std::size_t lines) noexcept;

}  // namespace jobsd::test

// The command table and the wording shared by every group.
#include "admin/commands.hpp"

#include <charconv>

namespace jobsd::admin {

const std::vector<command>& all_commands() {
    static const std::vector<command> all = [] {
        std::vector<command> v;
        for (auto group : {account_commands(), catalog_commands(), job_commands(), webhook_commands()})
            v.insert(v.end(), group.begin(), group.end());
        return v;
    }();
    return all;
}

void fail(boost::system::error_code ec, const std::string& subject) {
    using store::admin_errc;
    if (ec.category() == store::admin_category()) {
        switch (static_cast<admin_errc>(ec.value())) {
            case admin_errc::unknown_account:
                throw cli_error("unknown account \"" + subject + "\" (jobsctl account list shows them)");
            case admin_errc::unknown_key:
                throw cli_error("no key has the prefix \"" + subject +
                                "\" (the list commands show prefixes)");
            case admin_errc::ambiguous_prefix:
                throw cli_error("more than one live key has the prefix \"" + subject +
                                "\"; nothing was revoked (keys made by jobsctl have unique prefixes)");
            case admin_errc::unknown_job:
                throw cli_error("unknown job \"" + subject + "\"");
            case admin_errc::account_exists:
                throw cli_error("account \"" + subject + "\" exists already");
            case admin_errc::owned_elsewhere:
                throw cli_error("id \"" + subject + "\" belongs to another account; nothing was changed");
            case admin_errc::not_running:
                throw cli_error("job \"" + subject +
                                "\" is not STARTED or IN_PROGRESS; nothing was changed (a finished job is "
                                "retried with POST /jobs/:id/retry)");
        }
    }
    throw cli_error(subject + ": " + ec.message());
}

std::size_t parse_count(const std::string& flag, const std::string& text, std::size_t min, std::size_t max) {
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || n < min || n > max)
        throw cli_error(flag + " must be a whole number from " + std::to_string(min) + " to " +
                            std::to_string(max) + ", got \"" + text + "\"",
                        exit_usage);
    return n;
}

}  // namespace jobsd::admin

// jobsctl's command table and its argument parsing: each command declares its positional
// arguments and flags, and gets them checked (and its --help written) from that declaration.
// Pure code apart from the streams it is given.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace jobsd::store {
class admin_store;
class webhook_store;
}  // namespace jobsd::store

namespace jobsd::admin {

// Exit codes: 0 done, 1 the command failed (unknown account, job, …), 2 bad usage.
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;

// A failure the user can act on; its message is printed as "jobsctl: <message>".
class cli_error : public std::runtime_error {
  public:
    cli_error(const std::string& message, int exit_code = exit_failed)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const noexcept { return exit_code_; }

  private:
    int exit_code_;
};

struct flag_spec {
    std::string name;        // "--account"
    std::string value_name;  // "A"; "" for a flag that takes no value
    std::string help;
};

// What one run of a command was given, already checked against its declaration.
struct invocation {
    std::vector<std::string> args;             // the positional arguments, all present
    std::map<std::string, std::string> flags;  // given flags; "" as value for those without one

    bool has(const std::string& flag) const { return flags.contains(flag); }
    std::string value(const std::string& flag, const std::string& fallback = {}) const;
};

// What a command works with. The store is opened on first use, so --help and usage errors never
// touch (or create) a database.
struct context {
    std::function<store::admin_store&()> store;
    std::function<store::webhook_store&()> webhooks;  // the store as jobsd opens it, its webhook side
    bool json = false;                                // --json: machine-readable output
    std::ostream& out;                                // results
    std::ostream& err;  // notes for a person (what a key is for, what happens next)
};

struct command {
    std::string group;                     // "key"
    std::string name;                      // "create"; "" for a group that is itself the command
    std::vector<std::string> positionals;  // names in the usage line ("ACCOUNT"); all required
    std::vector<flag_spec> flags;
    std::string summary;                                   // one line, for the command list
    std::string details;                                   // further paragraphs for its --help; may be ""
    std::function<void(const invocation&, context&)> run;  // throws cli_error on failure

    std::string usage() const;  // "jobsctl key create ACCOUNT"
};

// Every command, in the order the overall help lists them.
const std::vector<command>& all_commands();

// Parses `args` (after the command words) against `cmd`. Throws cli_error(exit_usage) naming the
// problem: an unknown flag, a flag without its value, a missing or an extra argument.
invocation parse_invocation(const command& cmd, const std::vector<std::string>& args);

void write_command_help(std::ostream& out, const command& cmd);
// All commands, or those of one group.
void write_overview(std::ostream& out, const std::string& group = {});

}  // namespace jobsd::admin

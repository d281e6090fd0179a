// Argument checking and help text, all driven by the command declarations.
#include "admin/cli.hpp"

#include <ostream>

namespace jobsd::admin {

std::string invocation::value(const std::string& flag, const std::string& fallback) const {
    auto it = flags.find(flag);
    return it == flags.end() ? fallback : it->second;
}

std::string command::usage() const {
    std::string u = "jobsctl " + group;
    if (!name.empty()) u += " " + name;
    for (const auto& p : positionals) u += " " + p;
    for (const auto& f : flags) u += " [" + f.name + (f.value_name.empty() ? "" : " " + f.value_name) + "]";
    return u;
}

invocation parse_invocation(const command& cmd, const std::vector<std::string>& args) {
    invocation inv;
    auto usage_error = [&](const std::string& problem) {
        return cli_error(problem + "\nusage: " + cmd.usage() + " (--help for more)", exit_usage);
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.size() > 1 && a.starts_with("-")) {
            const flag_spec* spec = nullptr;
            for (const auto& f : cmd.flags)
                if (f.name == a) spec = &f;
            if (!spec) throw usage_error("unknown option " + a);
            if (spec->value_name.empty()) {
                inv.flags[a] = "";
                continue;
            }
            if (i + 1 >= args.size())
                throw usage_error("option " + a + " needs a value (" + spec->value_name + ")");
            inv.flags[a] = args[++i];
            continue;
        }
        inv.args.push_back(a);
    }
    if (inv.args.size() < cmd.positionals.size())
        throw usage_error("missing " + cmd.positionals[inv.args.size()]);
    if (inv.args.size() > cmd.positionals.size())
        throw usage_error("unexpected argument \"" + inv.args[cmd.positionals.size()] + "\"");
    for (std::size_t i = 0; i < inv.args.size(); ++i)
        if (inv.args[i].empty()) throw usage_error(cmd.positionals[i] + " must not be empty");
    return inv;
}

void write_command_help(std::ostream& out, const command& cmd) {
    out << "usage: " << cmd.usage() << "\n\n" << cmd.summary << "\n";
    if (!cmd.details.empty()) out << "\n" << cmd.details << "\n";
    if (!cmd.flags.empty()) {
        out << "\noptions:\n";
        for (const auto& f : cmd.flags) {
            std::string left = "  " + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
            if (left.size() < 22) left.resize(22, ' ');
            out << left << " " << f.help << "\n";
        }
    }
    out << "\nglobal options: --store URL, --json, --help (jobsctl --help)\n";
}

void write_overview(std::ostream& out, const std::string& group) {
    if (group.empty()) {
        out << "usage: jobsctl [--store URL] [--json] COMMAND [ARGS]\n\n"
               "Administers a jobsd store: accounts, API keys, operator keys, projects, image prompts, "
               "jobs, webhooks.\n"
               "Safe to run beside live jobsd instances on the same store.\n\ncommands:\n";
    } else {
        out << "commands of jobsctl " << group << ":\n";
    }
    for (const auto& c : all_commands()) {
        if (!group.empty() && c.group != group) continue;
        std::string left = "  " + c.group + (c.name.empty() ? "" : " " + c.name);
        if (left.size() < 28) left.resize(28, ' ');
        out << left << " " << c.summary << "\n";
    }
    if (group.empty())
        out << "\nglobal options:\n"
               "  --store URL            the store (default: $JOBSD_STORE_URL, else sqlite:var/jobsd.db,\n"
               "                         as in conf/jobsd.json)\n"
               "  --json                 machine-readable output\n"
               "  --help                 this text; after a command, that command's help\n\n"
               "exit status: 0 done, 1 the command failed, 2 bad usage\n";
}

}  // namespace jobsd::admin

// jobsctl: the operator's command line over a jobsd store. Global options, the choice of
// command, and the one place where failures become a message and an exit status.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "admin/cli.hpp"
#include "store/admin_store.hpp"
#include "store/store_factory.hpp"

namespace {

using namespace jobsd::admin;

// The default store: what jobsd itself would use with no flags (its env override, else the
// conf/jobsd.json default), so jobsctl run beside it finds the same file.
std::string default_store_url() {
    if (const char* env = std::getenv("JOBSD_STORE_URL"); env && *env) return env;
    return "sqlite:var/jobsd.db";
}

int run(int argc, char** argv) {
    std::string store_url = default_store_url();
    bool json = false, help = false;
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--store") {
            if (i + 1 >= argc) throw cli_error("option --store needs a value (URL)", exit_usage);
            store_url = argv[++i];
        } else if (a == "--json") {
            json = true;
        } else if (a == "--help" || a == "-h") {
            help = true;
        } else {
            words.push_back(a);
        }
    }
    if (words.empty()) {
        write_overview(help ? std::cout : std::cerr);
        return help ? 0 : exit_usage;
    }

    const auto& commands = all_commands();
    const std::string& group = words[0];
    const command* found = nullptr;
    bool group_known = false, group_has_subcommands = false;
    for (const auto& c : commands) {
        if (c.group != group) continue;
        group_known = true;
        if (!c.name.empty()) group_has_subcommands = true;
        if (c.name.empty() || (words.size() > 1 && c.name == words[1])) found = &c;
    }
    if (!group_known)
        throw cli_error("unknown command \"" + group + "\" (jobsctl --help lists them)", exit_usage);
    if (!found) {
        if (words.size() == 1 && help) {
            write_overview(std::cout, group);
            return 0;
        }
        std::cerr << "jobsctl: "
                  << (words.size() == 1 ? group + " needs a subcommand"
                                        : "unknown command \"" + group + " " + words[1] + "\"")
                  << "\n";
        write_overview(std::cerr, group);
        return exit_usage;
    }
    if (help) {
        write_command_help(std::cout, *found);
        return 0;
    }
    const std::vector<std::string> args(words.begin() + (group_has_subcommands ? 2 : 1), words.end());
    const invocation inv = parse_invocation(*found, args);

    std::unique_ptr<jobsd::store::admin_store> store;
    std::unique_ptr<jobsd::store::store> full;  // for the webhook side, which only the full store has
    context ctx{[&]() -> jobsd::store::admin_store& {
                    if (!store) store = jobsd::store::open_admin_store(store_url);
                    return *store;
                },
                [&]() -> jobsd::store::webhook_store& {
                    if (!full) {
                        jobsd::store::store_config config;  // the defaults, at the given URL
                        config.url = store_url;
                        full = jobsd::store::open_store(config);
                    }
                    if (!full->webhooks()) throw cli_error("this store keeps no webhooks");
                    return *full->webhooks();
                },
                json, std::cout, std::cerr};
    found->run(inv, ctx);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const cli_error& e) {
        std::cerr << "jobsctl: " << e.what() << "\n";
        return e.exit_code();
    } catch (const std::invalid_argument& e) {  // a store URL no adapter takes
        std::cerr << "jobsctl: " << e.what() << "\n";
        return exit_usage;
    } catch (const std::exception& e) {  // the store could not be opened, read or written
        std::cerr << "jobsctl: error: " << e.what() << "\n";
        return exit_failed;
    }
}

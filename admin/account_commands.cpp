// account, key and operator-key: who may call jobsd. Keys are made here from the CSPRNG, printed
// once, and stored only as their SHA-256 and visible prefix.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <ostream>

#include "admin/commands.hpp"
#include "admin/output.hpp"
#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "store/admin_store.hpp"

namespace jobsd::admin {

namespace json = boost::json;

namespace {

// Account ids travel in logs, URLs and shells: a conservative alphabet and length.
void check_account_id(const std::string& id) {
    const bool ok = id.size() <= 128 && id.find_first_not_of(
                                            "abcdefghijklmnopqrstuvwxyz"
                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos;
    if (!ok)
        throw cli_error("account id \"" + id + "\" must be at most 128 letters, digits, '_', '-' or '.'",
                        exit_usage);
}

constexpr const char* revocation_note =
    "running jobsd instances stop accepting it at their next catalog refresh "
    "(server.catalog_refresh_ms, 1 s by default)";

void print_new_key(context& ctx, const std::string& key, const std::string& prefix,
                   const std::string& owner) {
    if (ctx.json) {
        write_json(ctx.out, json::object{{"key", key}, {"prefix", prefix}, {"for", owner}});
    } else {
        ctx.out << key << "\n";
    }
    ctx.err
        << "key " << prefix << " for " << owner
        << ". It is shown only this once: the store keeps only its hash. Running jobsd instances accept it"
           " after their next catalog refresh (1 s by default).\n";
}

command account_create() {
    return {"account",
            "create",
            {"ID"},
            {{"--name", "N", "display name (default: empty)"}},
            "create an account",
            "ID: letters, digits, '_', '-' or '.', at most 128. Fails if it exists.",
            [](const invocation& inv, context& ctx) {
                check_account_id(inv.args[0]);
                store::account_info a{inv.args[0], inv.value("--name"), model::now_ms()};
                if (auto r = ctx.store().create_account(a); !r) fail(r.error(), a.id);
                if (ctx.json)
                    write_json(ctx.out,
                               json::object{
                                   {"id", a.id}, {"name", a.name}, {"created_at", time_json(a.created_ms)}});
                else
                    ctx.out << "account " << a.id << " created\n";
            }};
}

command account_list() {
    return {"account", "list", {}, {}, "list accounts", "", [](const invocation&, context& ctx) {
                const auto accounts = ctx.store().list_accounts();
                if (ctx.json) {
                    json::array out;
                    for (const auto& a : accounts)
                        out.push_back(json::object{
                            {"id", a.id}, {"name", a.name}, {"created_at", time_json(a.created_ms)}});
                    write_json(ctx.out, out);
                    return;
                }
                std::vector<table_row> rows;
                for (const auto& a : accounts)
                    rows.push_back({a.id, a.name.empty() ? "-" : a.name, time_text(a.created_ms)});
                write_table(ctx.out, {"ID", "NAME", "CREATED"}, rows);
            }};
}

command key_create() {
    return {"key",
            "create",
            {"ACCOUNT"},
            {},
            "create an API key for an account (printed once)",
            "Prints the new key on standard output, once: only its SHA-256 and its visible prefix\n"
            "(jk_ and 8 characters) are stored. 160 random bits from OpenSSL's CSPRNG.",
            [](const invocation& inv, context& ctx) {
                const std::string key = model::generate_api_key(model::key_kind::customer);
                const std::string prefix = model::key_prefix(key);
                if (auto r = ctx.store().add_api_key(inv.args[0], model::hash_api_key(key), prefix,
                                                     model::now_ms());
                    !r)
                    fail(r.error(), inv.args[0]);
                print_new_key(ctx, key, prefix, "account " + inv.args[0]);
            }};
}

json::object key_json(const store::api_key_info& k) {
    return {{"prefix", k.prefix},
            {"account_id", k.account_id},
            {"created_at", time_json(k.created_ms)},
            {"revoked_at", time_json(k.revoked_ms)}};
}

command key_list() {
    return {
        "key",
        "list",
        {},
        {{"--account", "A", "only this account's keys"}, {"--prefix", "P", "only prefixes starting with P"}},
        "list API keys (prefixes, never the keys)",
        "",
        [](const invocation& inv, context& ctx) {
            const auto keys = ctx.store().list_api_keys({inv.value("--account"), inv.value("--prefix")});
            if (ctx.json) {
                json::array out;
                for (const auto& k : keys) out.push_back(key_json(k));
                write_json(ctx.out, out);
                return;
            }
            std::vector<table_row> rows;
            for (const auto& k : keys)
                rows.push_back({k.prefix, k.account_id, time_text(k.created_ms), time_text(k.revoked_ms)});
            write_table(ctx.out, {"PREFIX", "ACCOUNT", "CREATED", "REVOKED"}, rows);
        }};
}

command key_revoke() {
    return {"key",
            "revoke",
            {"PREFIX"},
            {},
            "revoke the API key with this prefix",
            std::string("PREFIX is the whole visible prefix as key list shows it; ") + revocation_note + ".",
            [](const invocation& inv, context& ctx) {
                const auto now = model::now_ms();
                auto r = ctx.store().revoke_api_key(inv.args[0], now);
                if (!r) fail(r.error(), inv.args[0]);
                if (ctx.json) {
                    write_json(ctx.out, key_json(*r));
                } else if (r->revoked_ms && *r->revoked_ms != now) {
                    ctx.out << "key " << r->prefix << " of account " << r->account_id
                            << " was already revoked at " << time_text(r->revoked_ms) << "\n";
                } else {
                    ctx.out << "key " << r->prefix << " of account " << r->account_id << " revoked; "
                            << revocation_note << "\n";
                }
            }};
}

command operator_key_create() {
    return {"operator-key",
            "create",
            {},
            {{"--name", "N", "who or what the key is for"}},
            "create an operator key (queue view, dashboard; printed once)",
            "Prints the new key once; only its hash and visible prefix (jo_ and 8 characters) are stored.\n"
            "Operator keys live apart from customer keys: neither ever works as the other.",
            [](const invocation& inv, context& ctx) {
                const std::string key = model::generate_api_key(model::key_kind::operator_key);
                const std::string prefix = model::key_prefix(key);
                const std::string name = inv.value("--name");
                ctx.store().add_operator_key(model::hash_api_key(key), prefix, name, model::now_ms());
                print_new_key(ctx, key, prefix, name.empty() ? std::string("operators") : "operator " + name);
            }};
}

json::object operator_key_json(const store::operator_key_info& k) {
    return {{"prefix", k.prefix},
            {"name", k.name},
            {"created_at", time_json(k.created_ms)},
            {"revoked_at", time_json(k.revoked_ms)}};
}

command operator_key_list() {
    return {"operator-key",
            "list",
            {},
            {},
            "list operator keys (prefixes, never the keys)",
            "",
            [](const invocation&, context& ctx) {
                const auto keys = ctx.store().list_operator_keys();
                if (ctx.json) {
                    json::array out;
                    for (const auto& k : keys) out.push_back(operator_key_json(k));
                    write_json(ctx.out, out);
                    return;
                }
                std::vector<table_row> rows;
                for (const auto& k : keys)
                    rows.push_back({k.prefix, k.name.empty() ? "-" : k.name, time_text(k.created_ms),
                                    time_text(k.revoked_ms)});
                write_table(ctx.out, {"PREFIX", "NAME", "CREATED", "REVOKED"}, rows);
            }};
}

command operator_key_revoke() {
    return {"operator-key",
            "revoke",
            {"PREFIX"},
            {},
            "revoke the operator key with this prefix",
            std::string("PREFIX as operator-key list shows it; ") + revocation_note + ".",
            [](const invocation& inv, context& ctx) {
                const auto now = model::now_ms();
                auto r = ctx.store().revoke_operator_key(inv.args[0], now);
                if (!r) fail(r.error(), inv.args[0]);
                if (ctx.json)
                    write_json(ctx.out, operator_key_json(*r));
                else if (r->revoked_ms && *r->revoked_ms != now)
                    ctx.out << "operator key " << r->prefix << " was already revoked at "
                            << time_text(r->revoked_ms) << "\n";
                else
                    ctx.out << "operator key " << r->prefix << " revoked; " << revocation_note << "\n";
            }};
}

}  // namespace

std::vector<command> account_commands() {
    return {account_create(), account_list(),        key_create(),        key_list(),
            key_revoke(),     operator_key_create(), operator_key_list(), operator_key_revoke()};
}

}  // namespace jobsd::admin

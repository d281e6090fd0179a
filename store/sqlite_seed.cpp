// The seed's upserts, the same statements as the PostgreSQL seed's in SQLite's dialect.
#include "store/sqlite_seed.hpp"

#include <boost/json/serialize.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "model/api_key.hpp"
#include "model/clock.hpp"

namespace jobsd::store {

namespace {

void write_accounts(sqlite_db& db, const seed_data& seed, std::int64_t now) {
    sqlite_statement account(db.handle(),
                             "INSERT INTO accounts (id, name, created_ms) VALUES (?1, ?2, ?3)"
                             " ON CONFLICT (id) DO UPDATE SET name = excluded.name");
    sqlite_statement key(
        db.handle(),
        "INSERT INTO api_keys (key_hash, account_id, prefix, created_ms) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (key_hash) DO UPDATE SET account_id = excluded.account_id,"
        " revoked_ms = NULL");
    for (const auto& a : seed.accounts) {
        account.bind(1, std::string_view(a.id));
        account.bind(2, std::string_view(a.name));
        account.bind(3, now);
        db.run(account, "account " + a.id);
        for (const auto& k : a.keys) {
            const auto hash = model::hash_api_key(k);
            const auto prefix = model::key_prefix(k);
            key.bind(1, std::string_view(hash));
            key.bind(2, std::string_view(a.id));
            key.bind(3, std::string_view(prefix));
            key.bind(4, now);
            db.run(key, "key of account " + a.id);
        }
    }
}

void write_operator_keys(sqlite_db& db, const seed_data& seed, std::int64_t now) {
    sqlite_statement operator_key(
        db.handle(),
        "INSERT INTO operator_keys (key_hash, prefix, name, created_ms) VALUES (?1, ?2, 'seed', ?3)"
        " ON CONFLICT (key_hash) DO UPDATE SET revoked_ms = NULL");
    for (const auto& k : seed.operator_keys) {
        const auto hash = model::hash_api_key(k);
        const auto prefix = model::key_prefix(k);
        operator_key.bind(1, std::string_view(hash));
        operator_key.bind(2, std::string_view(prefix));
        operator_key.bind(3, now);
        db.run(operator_key, "operator key");
    }
}

void write_projects(sqlite_db& db, const seed_data& seed) {
    sqlite_statement project(
        db.handle(),
        "INSERT INTO projects (id, account_id, name, type, start_ms, end_ms, mapping_fields, strict_values)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET account_id = "
        "excluded.account_id,"
        " name = excluded.name, type = excluded.type, start_ms = excluded.start_ms, end_ms = excluded.end_ms,"
        " mapping_fields = excluded.mapping_fields, strict_values = excluded.strict_values");
    for (const auto& p : seed.projects) {
        const auto fields = boost::json::serialize(p.mapping_fields);
        project.bind(1, std::string_view(p.id));
        project.bind(2, std::string_view(p.account_id));
        project.bind(3, std::string_view(p.name));
        project.bind(4, std::string_view(p.type));
        project.bind(5, p.start_ms);
        project.bind(6, p.end_ms);
        project.bind(7, std::string_view(fields));
        project.bind(8, std::int64_t{p.strict_values ? 1 : 0});
        db.run(project, "project " + p.id);
    }
}

void write_image_prompts(sqlite_db& db, const seed_data& seed) {
    sqlite_statement prompt(db.handle(),
                            "INSERT INTO image_prompts (id, account_id, name, prompt) VALUES (?1, ?2, ?3, ?4)"
                            " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id,"
                            " name = excluded.name, prompt = excluded.prompt");
    for (const auto& ip : seed.image_prompts) {
        prompt.bind(1, std::string_view(ip.id));
        prompt.bind(2, std::string_view(ip.account_id));
        prompt.bind(3, std::string_view(ip.name));
        prompt.bind(4, std::string_view(ip.prompt));
        db.run(prompt, "image prompt " + ip.id);
    }
}

}  // namespace

void write_sqlite_seed(sqlite_db& db, const seed_data& seed) {
    const auto now = model::now_ms();
    write_accounts(db, seed, now);
    write_operator_keys(db, seed, now);
    write_projects(db, seed);
    write_image_prompts(db, seed);
}

}  // namespace jobsd::store

// The seed's upserts, the same statements as the SQLite store's in PostgreSQL's dialect.
#include "store/pg_seed.hpp"

#include <boost/json/serialize.hpp>

#include <optional>
#include <string>
#include <vector>

#include "model/api_key.hpp"
#include "model/clock.hpp"
#include "store/pg_connection.hpp"

namespace jobsd::store {

namespace {

using params = std::vector<std::optional<std::string>>;

void run(PGconn* conn, const char* sql, const params& p, const std::string& what) {
    std::vector<const char*> values;
    for (const auto& v : p) values.push_back(v ? v->c_str() : nullptr);
    pg_reply r(PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                            nullptr, 0));
    if (!r.ok()) throw pg_error("postgres: seed: " + what + ": " + r.error());
}

std::optional<std::string> num(std::optional<std::int64_t> v) {
    if (!v) return std::nullopt;
    return std::to_string(*v);
}

}  // namespace

void write_pg_seed(PGconn* conn, const seed_data& seed) {
    const auto now = std::to_string(model::now_ms());
    run(conn, "BEGIN", {}, "BEGIN");
    try {
        for (const auto& a : seed.accounts) {
            run(conn,
                "INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                {a.id, a.name, now}, "account " + a.id);
            for (const auto& k : a.keys)
                run(conn,
                    "INSERT INTO api_keys (key_hash, account_id, prefix, created_ms) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (key_hash) DO UPDATE SET account_id = excluded.account_id, revoked_ms = "
                    "NULL",
                    {model::hash_api_key(k), a.id, std::string(model::key_prefix(k)), now},
                    "key of account " + a.id);
        }
        for (const auto& k : seed.operator_keys)
            run(conn,
                "INSERT INTO operator_keys (key_hash, prefix, name, created_ms) VALUES ($1, $2, 'seed', $3)"
                " ON CONFLICT (key_hash) DO UPDATE SET revoked_ms = NULL",
                {model::hash_api_key(k), std::string(model::key_prefix(k)), now}, "operator key");
        for (const auto& p : seed.projects)
            run(conn,
                "INSERT INTO projects (id, account_id, name, type, start_ms, end_ms, mapping_fields,"
                " strict_values) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET"
                " account_id = excluded.account_id, name = excluded.name, type = excluded.type,"
                " start_ms = excluded.start_ms, end_ms = excluded.end_ms,"
                " mapping_fields = excluded.mapping_fields, strict_values = excluded.strict_values",
                {p.id, p.account_id, p.name, p.type, num(p.start_ms), num(p.end_ms),
                 boost::json::serialize(p.mapping_fields), p.strict_values ? "true" : "false"},
                "project " + p.id);
        for (const auto& ip : seed.image_prompts)
            run(conn,
                "INSERT INTO image_prompts (id, account_id, name, prompt) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, name = excluded.name,"
                " prompt = excluded.prompt",
                {ip.id, ip.account_id, ip.name, ip.prompt}, "image prompt " + ip.id);
        run(conn, "COMMIT", {}, "COMMIT");
    } catch (...) {
        PQclear(PQexec(conn, "ROLLBACK"));
        throw;
    }
}

}  // namespace jobsd::store

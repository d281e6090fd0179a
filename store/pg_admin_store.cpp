// Every write is one BEGIN … COMMIT; checks that could race another writer are decided by the
// statement itself (ON CONFLICT, FOR UPDATE) so two tools or a jobsd beside them cannot slip in.
#include "store/pg_admin_store.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <utility>

#include "model/job_event.hpp"
#include "store/admin_store_rules.hpp"
#include "store/pg_job_row.hpp"
#include "store/pg_schema.hpp"

namespace jobsd::store {

namespace {

// Commits on commit(), rolls back when left without it (an exception or an early return).
class pg_transaction {
  public:
    explicit pg_transaction(PGconn* conn) : conn_(conn) { run("BEGIN"); }
    ~pg_transaction() {
        // The failure that brought us here is the one worth reporting, not the rollback's.
        if (!done_) PQclear(PQexec(conn_, "ROLLBACK"));
    }
    void commit() {
        run("COMMIT");
        done_ = true;
    }

  private:
    void run(const char* sql) {
        pg_reply r(PQexec(conn_, sql));
        if (!r.ok()) throw pg_error(std::string("postgres: ") + sql + ": " + r.error());
    }
    PGconn* conn_;
    bool done_ = false;
};

std::string num(std::int64_t v) {
    return std::to_string(v);
}

std::optional<std::string> num(std::optional<std::int64_t> v) {
    if (!v) return std::nullopt;
    return std::to_string(*v);
}

api_key_info read_api_key(const pg_reply& r, int row) {
    return {std::string(r.text(row, 0)), std::string(r.text(row, 1)), r.int64(row, 2),
            r.optional_int64(row, 3)};
}

operator_key_info read_operator_key(const pg_reply& r, int row) {
    return {std::string(r.text(row, 0)), std::string(r.text(row, 1)), r.int64(row, 2),
            r.optional_int64(row, 3)};
}

}  // namespace

pg_admin_store::pg_admin_store(pg_admin_options options)
    : conn_(pg_connect_blocking(options.url, options.connect_timeout)) {
    migrate_pg(conn_.get());
}

pg_admin_store::~pg_admin_store() = default;

pg_reply pg_admin_store::exec(std::string_view sql, const params& p, std::string_view what) {
    std::vector<const char*> values;
    values.reserve(p.size());
    for (const auto& v : p) values.push_back(v ? v->c_str() : nullptr);
    pg_reply r(PQexecParams(conn_.get(), std::string(sql).c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
    if (!r.ok()) {
        std::string msg = r.get() ? r.error() : std::string(PQerrorMessage(conn_.get()));
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        throw pg_error("postgres: " + std::string(what) + ": " + msg);
    }
    return r;
}

bool pg_admin_store::account_exists(const std::string& account_id) {
    return exec("SELECT 1 FROM accounts WHERE id = $1", {account_id}, "finding an account").rows() > 0;
}

admin_result<void> pg_admin_store::create_account(const account_info& account) {
    pg_transaction txn(conn_.get());
    auto r = exec(
        "INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING"
        " RETURNING id",
        {account.id, account.name, num(account.created_ms)}, "creating an account");
    if (r.rows() == 0) return admin_errc::account_exists;
    txn.commit();
    return {};
}

std::vector<account_info> pg_admin_store::list_accounts() {
    // COLLATE "C": the byte order SQLite sorts by, whatever the database's locale.
    auto r =
        exec("SELECT id, name, created_ms FROM accounts ORDER BY id COLLATE \"C\"", {}, "listing accounts");
    std::vector<account_info> out;
    for (int i = 0; i < r.rows(); ++i)
        out.push_back({std::string(r.text(i, 0)), std::string(r.text(i, 1)), r.int64(i, 2)});
    return out;
}

admin_result<void> pg_admin_store::add_api_key(const std::string& account_id, const std::string& key_hash,
                                               const std::string& prefix, std::int64_t now_ms) {
    pg_transaction txn(conn_.get());
    // Accounts are never deleted, so one that exists now still does at the insert.
    if (!account_exists(account_id)) return admin_errc::unknown_account;
    exec("INSERT INTO api_keys (key_hash, account_id, prefix, created_ms) VALUES ($1, $2, $3, $4)",
         {key_hash, account_id, prefix, num(now_ms)}, "storing a key");
    txn.commit();
    return {};
}

std::vector<api_key_info> pg_admin_store::list_api_keys(const api_key_filter& filter) {
    // left() rather than LIKE: a prefix may hold '_' and '%', which LIKE would read as patterns.
    auto r = exec(
        "SELECT prefix, account_id, created_ms, revoked_ms FROM api_keys"
        " WHERE ($1::text = '' OR account_id = $1) AND left(prefix, length($2::text)) = $2"
        " ORDER BY account_id COLLATE \"C\", created_ms, prefix COLLATE \"C\"",
        {filter.account_id, filter.prefix}, "listing keys");
    std::vector<api_key_info> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_api_key(r, i));
    return out;
}

revoke_choice pg_admin_store::revoke_by_prefix(std::string_view table, const std::string& prefix,
                                               std::int64_t now_ms) {
    // FOR UPDATE: a second revoke of the same prefix waits here and then sees it revoked.
    auto found = exec("SELECT key_hash, revoked_ms IS NULL FROM " + std::string(table) +
                          " WHERE prefix = $1 ORDER BY revoked_ms IS NULL DESC, created_ms DESC FOR UPDATE",
                      {prefix}, "finding keys");
    std::vector<std::string> live, revoked;
    for (int i = 0; i < found.rows(); ++i)
        (found.text(i, 1) == "t" ? live : revoked).emplace_back(found.text(i, 0));
    auto choice = choose_key_to_revoke(live, revoked);
    if (choice.ec || choice.already_revoked) return choice;
    exec("UPDATE " + std::string(table) + " SET revoked_ms = $2 WHERE key_hash = $1",
         {choice.key_hash, num(now_ms)}, "revoking a key");
    return choice;
}

admin_result<api_key_info> pg_admin_store::revoke_api_key(const std::string& prefix, std::int64_t now_ms) {
    pg_transaction txn(conn_.get());
    auto choice = revoke_by_prefix("api_keys", prefix, now_ms);
    if (choice.ec) return choice.ec;
    auto r = exec("SELECT prefix, account_id, created_ms, revoked_ms FROM api_keys WHERE key_hash = $1",
                  {choice.key_hash}, "reading a key");
    if (r.rows() == 0) throw pg_error("postgres: the key revoked has gone");
    auto info = read_api_key(r, 0);
    txn.commit();
    return info;
}

void pg_admin_store::add_operator_key(const std::string& key_hash, const std::string& prefix,
                                      const std::string& name, std::int64_t now_ms) {
    exec("INSERT INTO operator_keys (key_hash, prefix, name, created_ms) VALUES ($1, $2, $3, $4)",
         {key_hash, prefix, name, num(now_ms)}, "storing an operator key");
}

std::vector<operator_key_info> pg_admin_store::list_operator_keys() {
    auto r = exec(
        "SELECT prefix, name, created_ms, revoked_ms FROM operator_keys"
        " ORDER BY created_ms, prefix COLLATE \"C\"",
        {}, "listing operator keys");
    std::vector<operator_key_info> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_operator_key(r, i));
    return out;
}

admin_result<operator_key_info> pg_admin_store::revoke_operator_key(const std::string& prefix,
                                                                    std::int64_t now_ms) {
    pg_transaction txn(conn_.get());
    auto choice = revoke_by_prefix("operator_keys", prefix, now_ms);
    if (choice.ec) return choice.ec;
    auto r = exec("SELECT prefix, name, created_ms, revoked_ms FROM operator_keys WHERE key_hash = $1",
                  {choice.key_hash}, "reading an operator key");
    if (r.rows() == 0) throw pg_error("postgres: the operator key revoked has gone");
    auto info = read_operator_key(r, 0);
    txn.commit();
    return info;
}

admin_result<void> pg_admin_store::put_project(const model::project& p) {
    pg_transaction txn(conn_.get());
    if (!account_exists(p.account_id)) return admin_errc::unknown_account;
    // The upsert's WHERE keeps an id of another account as it is and returns no row: the
    // ownership check and the write are one statement, so no other writer can come between.
    auto r = exec(
        "INSERT INTO projects (id, account_id, name, type, start_ms, end_ms, mapping_fields, strict_values)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
        " type = excluded.type, start_ms = excluded.start_ms, end_ms = excluded.end_ms,"
        " mapping_fields = excluded.mapping_fields, strict_values = excluded.strict_values"
        " WHERE projects.account_id = excluded.account_id RETURNING id",
        {p.id, p.account_id, p.name, p.type, num(p.start_ms), num(p.end_ms),
         boost::json::serialize(p.mapping_fields), p.strict_values ? "true" : "false"},
        "storing a project");
    if (r.rows() == 0) return admin_errc::owned_elsewhere;
    txn.commit();
    return {};
}

std::vector<model::project> pg_admin_store::list_projects(const std::string& account_id) {
    auto r = exec(
        "SELECT id, account_id, name, type, start_ms, end_ms, mapping_fields, strict_values FROM projects"
        " WHERE $1::text = '' OR account_id = $1"
        " ORDER BY account_id COLLATE \"C\", name COLLATE \"C\", id COLLATE \"C\"",
        {account_id}, "listing projects");
    std::vector<model::project> out;
    for (int i = 0; i < r.rows(); ++i) {
        model::project p;
        p.id = r.text(i, 0);
        p.account_id = r.text(i, 1);
        p.name = r.text(i, 2);
        p.type = r.text(i, 3);
        p.start_ms = r.optional_int64(i, 4);
        p.end_ms = r.optional_int64(i, 5);
        p.mapping_fields = parse_mapping_fields(r.text(i, 6));
        p.strict_values = r.text(i, 7) == "t";  // a boolean in text format
        out.push_back(std::move(p));
    }
    return out;
}

admin_result<void> pg_admin_store::put_image_prompt(const model::image_prompt& ip) {
    pg_transaction txn(conn_.get());
    if (!account_exists(ip.account_id)) return admin_errc::unknown_account;
    auto r = exec(
        "INSERT INTO image_prompts (id, account_id, name, prompt) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, prompt = excluded.prompt"
        " WHERE image_prompts.account_id = excluded.account_id RETURNING id",
        {ip.id, ip.account_id, ip.name, ip.prompt}, "storing an image prompt");
    if (r.rows() == 0) return admin_errc::owned_elsewhere;
    txn.commit();
    return {};
}

std::vector<model::image_prompt> pg_admin_store::list_image_prompts(const std::string& account_id) {
    auto r = exec(
        "SELECT id, account_id, name, prompt FROM image_prompts WHERE $1::text = '' OR account_id = $1"
        " ORDER BY account_id COLLATE \"C\", name COLLATE \"C\", id COLLATE \"C\"",
        {account_id}, "listing image prompts");
    std::vector<model::image_prompt> out;
    for (int i = 0; i < r.rows(); ++i)
        out.push_back({std::string(r.text(i, 0)), std::string(r.text(i, 1)), std::string(r.text(i, 2)),
                       std::string(r.text(i, 3))});
    return out;
}

admin_result<admin_job> pg_admin_store::find_job(const std::string& uuid) {
    auto r = exec(select_pg_admin_jobs("WHERE uuid = $1"), {uuid}, "reading a job");
    if (r.rows() == 0) return admin_errc::unknown_job;
    return read_pg_admin_job(r, 0);
}

std::vector<admin_job> pg_admin_store::list_unpublished(std::size_t limit) {
    auto r = exec(select_pg_admin_jobs("WHERE NOT published ORDER BY seq LIMIT $1"),
                  {num(static_cast<std::int64_t>(limit))}, "reading the outbox");
    std::vector<admin_job> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_pg_admin_job(r, i));
    return out;
}

std::vector<std::string> pg_admin_store::requeue_dead_lettered(model::job_type type, std::size_t limit,
                                                               std::int64_t now_ms) {
    pg_transaction txn(conn_.get());
    // The explicit exception to "status only moves forward": back to the start, unpublished and
    // unclaimed, so whichever jobsd's relay sweeps next claims it and sends it again, and its
    // events (STARTED, …) apply as for a new job. FOR UPDATE keeps a late event from racing it. As
    // after POST /jobs/:id/retry, the new attempt has its time to live again from now and no
    // cancel asked of it.
    auto r = exec(
        "WITH picked AS (SELECT seq FROM jobs WHERE job_type = $1 AND job_status = $2"
        " AND left(error, length($3::text)) = $3 ORDER BY seq LIMIT $4 FOR UPDATE)"
        " UPDATE jobs SET job_status = $5, attempt = jobs.attempt + 1, published = false, progress = NULL, "
        "output = NULL,"
        " error = NULL, cancel_requested_ms = NULL, expires_at_ms = $6::bigint + jobs.expires_in_ms,"
        " claimed_by = NULL, claimed_until = NULL, updated_ms = greatest(updated_ms, $6::bigint)"
        " FROM picked WHERE jobs.seq = picked.seq RETURNING jobs.seq, jobs.uuid",
        {std::string(model::to_string(type)), std::string(model::to_string(model::job_status::failed)),
         std::string(model::dead_letter_error_prefix), num(static_cast<std::int64_t>(limit)),
         std::string(model::to_string(model::job_status::queued)), num(now_ms)},
        "requeueing dead-lettered jobs");
    std::vector<std::pair<std::int64_t, std::string>> rows;
    for (int i = 0; i < r.rows(); ++i) rows.emplace_back(r.int64(i, 0), std::string(r.text(i, 1)));
    std::sort(rows.begin(), rows.end());  // RETURNING has no order: oldest first, as promised
    txn.commit();
    std::vector<std::string> uuids;
    for (auto& [seq, uuid] : rows) uuids.push_back(std::move(uuid));
    return uuids;
}

std::vector<admin_job> pg_admin_store::list_stuck(std::int64_t updated_before_ms,
                                                  std::optional<model::job_type> type, std::size_t limit) {
    auto r =
        exec(select_pg_admin_jobs(
                 "WHERE published AND job_status IN ('QUEUED', 'STARTED', 'IN_PROGRESS') AND updated_ms < $1"
                 " AND fair_key IS NULL AND retry_at_ms IS NULL AND ($2::text = '' OR job_type = $2) ORDER "
                 "BY updated_ms LIMIT $3"),
             {num(updated_before_ms), type ? std::string(model::to_string(*type)) : std::string(),
              num(static_cast<std::int64_t>(limit))},
             "listing stuck jobs");
    std::vector<admin_job> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_pg_admin_job(r, i));
    return out;
}

admin_result<admin_job> pg_admin_store::requeue_job(const std::string& uuid, std::int64_t now_ms) {
    pg_transaction txn(conn_.get());
    // FOR UPDATE keeps a late event from racing the requeue.
    auto r = exec(select_pg_admin_jobs("WHERE uuid = $1 FOR UPDATE"), {uuid}, "reading a job");
    if (r.rows() == 0) return admin_errc::unknown_job;
    const auto job = read_pg_admin_job(r, 0).job;
    if (job.status != model::job_status::started && job.status != model::job_status::in_progress)
        return admin_errc::not_running;
    exec(
        "INSERT INTO job_controls (uuid, job_type, kind, attempt, created_ms) VALUES ($1, $2, 'cancel', $3, "
        "$4)",
        {uuid, std::string(model::to_string(job.type)), num(static_cast<std::int64_t>(job.attempt)),
         num(now_ms)},
        "queueing the cancel of a job");
    // Unclaimed, so whichever jobsd's relay sweeps next claims it and sends it.
    exec(
        "UPDATE jobs SET job_status = $2, attempt = attempt + 1, published = false, progress = NULL, output "
        "= NULL,"
        " cancel_requested_ms = NULL, claimed_by = NULL, claimed_until = NULL,"
        " updated_ms = greatest(updated_ms, $3::bigint) WHERE uuid = $1",
        {uuid, std::string(model::to_string(model::job_status::queued)), num(now_ms)}, "requeueing a job");
    auto after = exec(select_pg_admin_jobs("WHERE uuid = $1"), {uuid}, "reading a job");
    txn.commit();
    return read_pg_admin_job(after, 0);
}

}  // namespace jobsd::store

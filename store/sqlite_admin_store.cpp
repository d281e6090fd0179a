// Each write runs in its own BEGIN IMMEDIATE transaction, so its checks and its change see one
// state of the file; SQLite's busy timeout makes it wait for a live jobsd's group commit.
#include "store/sqlite_admin_store.hpp"

#include <boost/json/serialize.hpp>

#include "model/job_event.hpp"
#include "store/admin_store_rules.hpp"
#include "store/sqlite_db.hpp"
#include "store/sqlite_job_row.hpp"
#include "store/sqlite_outbox_sql.hpp"
#include "store/sqlite_schema.hpp"

namespace jobsd::store {

namespace {

// Commits on commit(), rolls back when left without it (an exception or an early return).
class write_transaction {
  public:
    explicit write_transaction(sqlite_db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
    ~write_transaction() {
        if (!done_) {
            try {
                db_.exec("ROLLBACK");
            } catch (...) {  // the failure that brought us here is the one worth reporting
            }
        }
    }
    void commit() {
        db_.exec("COMMIT");
        done_ = true;
    }

  private:
    sqlite_db& db_;
    bool done_ = false;
};

// Finds the keys with exactly `prefix` in `table` (api_keys or operator_keys) and revokes the
// one live key, as choose_key_to_revoke decides. Shared by both kinds of key.
revoke_choice revoke_by_prefix(sqlite_db& db, std::string_view table, const std::string& prefix,
                               std::int64_t now_ms) {
    sqlite_statement find(db.handle(),
                          "SELECT key_hash, revoked_ms IS NULL FROM " + std::string(table) +
                              " WHERE prefix = ?1 ORDER BY revoked_ms IS NULL DESC, created_ms DESC");
    find.bind(1, std::string_view(prefix));
    std::vector<std::string> live, revoked;
    db.each_row(find, "finding keys", [&](sqlite_statement& st) {
        (st.column_int(1) ? live : revoked).emplace_back(st.column_text(0));
    });
    auto choice = choose_key_to_revoke(live, revoked);
    if (choice.ec || choice.already_revoked) return choice;
    sqlite_statement revoke(db.handle(),
                            "UPDATE " + std::string(table) + " SET revoked_ms = ?2 WHERE key_hash = ?1");
    revoke.bind(1, std::string_view(choice.key_hash));
    revoke.bind(2, now_ms);
    db.run(revoke, "revoking a key");
    return choice;
}

}  // namespace

sqlite_admin_store::sqlite_admin_store(sqlite_admin_options options) {
    if (options.path.has_parent_path()) std::filesystem::create_directories(options.path.parent_path());
    db_ = std::make_unique<sqlite_db>(options.path, sqlite_db::mode::read_write);
    sqlite3_busy_timeout(db_->handle(), static_cast<int>(options.busy_timeout.count()));
    db_->exec("PRAGMA journal_mode = WAL");
    db_->exec("PRAGMA synchronous = FULL");
    migrate_sqlite(*db_);
}

sqlite_admin_store::~sqlite_admin_store() = default;

bool sqlite_admin_store::account_exists(const std::string& account_id) {
    sqlite_statement st(db_->handle(), "SELECT 1 FROM accounts WHERE id = ?1");
    st.bind(1, std::string_view(account_id));
    const int rc = st.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        throw sqlite_error("finding an account: " + db_->error_message(), rc);
    return rc == SQLITE_ROW;
}

std::string sqlite_admin_store::owner_of(std::string_view table, const std::string& id) {
    sqlite_statement st(db_->handle(), "SELECT account_id FROM " + std::string(table) + " WHERE id = ?1");
    st.bind(1, std::string_view(id));
    std::string owner;
    db_->each_row(st, "finding an owner", [&](sqlite_statement& row) { owner = row.column_text(0); });
    return owner;
}

admin_result<void> sqlite_admin_store::create_account(const account_info& account) {
    write_transaction txn(*db_);
    if (account_exists(account.id)) return admin_errc::account_exists;
    sqlite_statement st(db_->handle(), "INSERT INTO accounts (id, name, created_ms) VALUES (?1, ?2, ?3)");
    st.bind(1, std::string_view(account.id));
    st.bind(2, std::string_view(account.name));
    st.bind(3, account.created_ms);
    db_->run(st, "creating an account");
    txn.commit();
    return {};
}

std::vector<account_info> sqlite_admin_store::list_accounts() {
    sqlite_statement st(db_->handle(), "SELECT id, name, created_ms FROM accounts ORDER BY id");
    std::vector<account_info> out;
    db_->each_row(st, "listing accounts", [&](sqlite_statement& r) {
        out.push_back({std::string(r.column_text(0)), std::string(r.column_text(1)), r.column_int(2)});
    });
    return out;
}

admin_result<void> sqlite_admin_store::add_api_key(const std::string& account_id, const std::string& key_hash,
                                                   const std::string& prefix, std::int64_t now_ms) {
    write_transaction txn(*db_);
    if (!account_exists(account_id)) return admin_errc::unknown_account;
    sqlite_statement st(
        db_->handle(),
        "INSERT INTO api_keys (key_hash, account_id, prefix, created_ms) VALUES (?1, ?2, ?3, ?4)");
    st.bind(1, std::string_view(key_hash));
    st.bind(2, std::string_view(account_id));
    st.bind(3, std::string_view(prefix));
    st.bind(4, now_ms);
    db_->run(st, "storing a key");
    txn.commit();
    return {};
}

std::vector<api_key_info> sqlite_admin_store::list_api_keys(const api_key_filter& filter) {
    // substr() rather than LIKE: a prefix may hold '_' and '%', which LIKE would read as patterns.
    sqlite_statement st(db_->handle(),
                        "SELECT prefix, account_id, created_ms, revoked_ms FROM api_keys"
                        " WHERE (?1 = '' OR account_id = ?1) AND substr(prefix, 1, length(?2)) = ?2"
                        " ORDER BY account_id, created_ms, prefix");
    st.bind(1, std::string_view(filter.account_id));
    st.bind(2, std::string_view(filter.prefix));
    std::vector<api_key_info> out;
    db_->each_row(st, "listing keys", [&](sqlite_statement& r) {
        out.push_back({std::string(r.column_text(0)), std::string(r.column_text(1)), r.column_int(2),
                       r.column_optional_int(3)});
    });
    return out;
}

admin_result<api_key_info> sqlite_admin_store::revoke_api_key(const std::string& prefix,
                                                              std::int64_t now_ms) {
    write_transaction txn(*db_);
    auto outcome = revoke_by_prefix(*db_, "api_keys", prefix, now_ms);
    if (outcome.ec) return outcome.ec;
    sqlite_statement st(
        db_->handle(), "SELECT prefix, account_id, created_ms, revoked_ms FROM api_keys WHERE key_hash = ?1");
    st.bind(1, std::string_view(outcome.key_hash));
    api_key_info info;
    db_->each_row(st, "reading a key", [&](sqlite_statement& r) {
        info = {std::string(r.column_text(0)), std::string(r.column_text(1)), r.column_int(2),
                r.column_optional_int(3)};
    });
    txn.commit();
    return info;
}

void sqlite_admin_store::add_operator_key(const std::string& key_hash, const std::string& prefix,
                                          const std::string& name, std::int64_t now_ms) {
    sqlite_statement st(
        db_->handle(),
        "INSERT INTO operator_keys (key_hash, prefix, name, created_ms) VALUES (?1, ?2, ?3, ?4)");
    st.bind(1, std::string_view(key_hash));
    st.bind(2, std::string_view(prefix));
    st.bind(3, std::string_view(name));
    st.bind(4, now_ms);
    db_->run(st, "storing an operator key");
}

std::vector<operator_key_info> sqlite_admin_store::list_operator_keys() {
    sqlite_statement st(
        db_->handle(),
        "SELECT prefix, name, created_ms, revoked_ms FROM operator_keys ORDER BY created_ms, prefix");
    std::vector<operator_key_info> out;
    db_->each_row(st, "listing operator keys", [&](sqlite_statement& r) {
        out.push_back({std::string(r.column_text(0)), std::string(r.column_text(1)), r.column_int(2),
                       r.column_optional_int(3)});
    });
    return out;
}

admin_result<operator_key_info> sqlite_admin_store::revoke_operator_key(const std::string& prefix,
                                                                        std::int64_t now_ms) {
    write_transaction txn(*db_);
    auto outcome = revoke_by_prefix(*db_, "operator_keys", prefix, now_ms);
    if (outcome.ec) return outcome.ec;
    sqlite_statement st(db_->handle(),
                        "SELECT prefix, name, created_ms, revoked_ms FROM operator_keys WHERE key_hash = ?1");
    st.bind(1, std::string_view(outcome.key_hash));
    operator_key_info info;
    db_->each_row(st, "reading an operator key", [&](sqlite_statement& r) {
        info = {std::string(r.column_text(0)), std::string(r.column_text(1)), r.column_int(2),
                r.column_optional_int(3)};
    });
    txn.commit();
    return info;
}

admin_result<void> sqlite_admin_store::put_project(const model::project& p) {
    write_transaction txn(*db_);
    if (!account_exists(p.account_id)) return admin_errc::unknown_account;
    if (auto owner = owner_of("projects", p.id); !owner.empty() && owner != p.account_id)
        return admin_errc::owned_elsewhere;
    sqlite_statement st(
        db_->handle(),
        "INSERT INTO projects (id, account_id, name, type, start_ms, end_ms, mapping_fields, strict_values)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
        " type = excluded.type, start_ms = excluded.start_ms, end_ms = excluded.end_ms,"
        " mapping_fields = excluded.mapping_fields, strict_values = excluded.strict_values");
    const auto fields = boost::json::serialize(p.mapping_fields);
    st.bind(1, std::string_view(p.id));
    st.bind(2, std::string_view(p.account_id));
    st.bind(3, std::string_view(p.name));
    st.bind(4, std::string_view(p.type));
    st.bind(5, p.start_ms);
    st.bind(6, p.end_ms);
    st.bind(7, std::string_view(fields));
    st.bind(8, std::int64_t{p.strict_values ? 1 : 0});
    db_->run(st, "storing a project");
    txn.commit();
    return {};
}

std::vector<model::project> sqlite_admin_store::list_projects(const std::string& account_id) {
    sqlite_statement st(db_->handle(),
                        "SELECT id, account_id, name, type, start_ms, end_ms, mapping_fields, strict_values"
                        " FROM projects WHERE ?1 = '' OR account_id = ?1 ORDER BY account_id, name, id");
    st.bind(1, std::string_view(account_id));
    std::vector<model::project> out;
    db_->each_row(st, "listing projects", [&](sqlite_statement& r) {
        model::project p;
        p.id = r.column_text(0);
        p.account_id = r.column_text(1);
        p.name = r.column_text(2);
        p.type = r.column_text(3);
        p.start_ms = r.column_optional_int(4);
        p.end_ms = r.column_optional_int(5);
        p.mapping_fields = parse_mapping_fields(r.column_text(6));
        p.strict_values = r.column_int(7) != 0;
        out.push_back(std::move(p));
    });
    return out;
}

admin_result<void> sqlite_admin_store::put_image_prompt(const model::image_prompt& ip) {
    write_transaction txn(*db_);
    if (!account_exists(ip.account_id)) return admin_errc::unknown_account;
    if (auto owner = owner_of("image_prompts", ip.id); !owner.empty() && owner != ip.account_id)
        return admin_errc::owned_elsewhere;
    sqlite_statement st(db_->handle(),
                        "INSERT INTO image_prompts (id, account_id, name, prompt) VALUES (?1, ?2, ?3, ?4)"
                        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, prompt = excluded.prompt");
    st.bind(1, std::string_view(ip.id));
    st.bind(2, std::string_view(ip.account_id));
    st.bind(3, std::string_view(ip.name));
    st.bind(4, std::string_view(ip.prompt));
    db_->run(st, "storing an image prompt");
    txn.commit();
    return {};
}

std::vector<model::image_prompt> sqlite_admin_store::list_image_prompts(const std::string& account_id) {
    sqlite_statement st(db_->handle(),
                        "SELECT id, account_id, name, prompt FROM image_prompts"
                        " WHERE ?1 = '' OR account_id = ?1 ORDER BY account_id, name, id");
    st.bind(1, std::string_view(account_id));
    std::vector<model::image_prompt> out;
    db_->each_row(st, "listing image prompts", [&](sqlite_statement& r) {
        out.push_back({std::string(r.column_text(0)), std::string(r.column_text(1)),
                       std::string(r.column_text(2)), std::string(r.column_text(3))});
    });
    return out;
}

admin_result<admin_job> sqlite_admin_store::find_job(const std::string& uuid) {
    sqlite_statement st(db_->handle(), select_sqlite_admin_jobs("WHERE uuid = ?1"));
    st.bind(1, std::string_view(uuid));
    std::optional<admin_job> found;
    db_->each_row(st, "reading a job", [&](sqlite_statement& r) { found = read_sqlite_admin_job(r); });
    if (!found) return admin_errc::unknown_job;
    return std::move(*found);
}

std::vector<admin_job> sqlite_admin_store::list_unpublished(std::size_t limit) {
    sqlite_statement st(
        db_->handle(), select_sqlite_admin_jobs("WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?1) "
                                                "ORDER BY seq"));
    st.bind(1, static_cast<std::int64_t>(limit));
    std::vector<admin_job> out;
    db_->each_row(st, "reading the outbox",
                  [&](sqlite_statement& r) { out.push_back(read_sqlite_admin_job(r)); });
    return out;
}

std::vector<std::string> sqlite_admin_store::requeue_dead_lettered(model::job_type type, std::size_t limit,
                                                                   std::int64_t now_ms) {
    write_transaction txn(*db_);
    sqlite_statement find(db_->handle(),
                          "SELECT uuid FROM jobs WHERE job_type = ?1 AND job_status = ?2"
                          " AND substr(error, 1, length(?3)) = ?3 ORDER BY seq LIMIT ?4");
    find.bind(1, model::to_string(type));
    find.bind(2, model::to_string(model::job_status::failed));
    find.bind(3, model::dead_letter_error_prefix);
    find.bind(4, static_cast<std::int64_t>(limit));
    std::vector<std::string> uuids;
    db_->each_row(find, "finding dead-lettered jobs",
                  [&](sqlite_statement& r) { uuids.emplace_back(r.column_text(0)); });
    // The explicit exception to "status only moves forward": back to the start, unpublished, so
    // the outbox relay sends it again and its events (STARTED, …) apply as for a new job. As after
    // POST /jobs/:id/retry, the new attempt has its time to live again from now and no cancel
    // asked of it.
    sqlite_statement requeue(
        db_->handle(),
        "UPDATE jobs SET job_status = ?2, attempt = attempt + 1, progress = NULL,"
        " output = NULL, error = NULL, cancel_requested_ms = NULL, expires_at_ms = ?3 + expires_in_ms,"
        " updated_ms = max(updated_ms, ?3) WHERE uuid = ?1");
    sqlite_statement enter(db_->handle(), sqlite_outbox::enter);
    for (const auto& uuid : uuids) {
        requeue.bind(1, std::string_view(uuid));
        requeue.bind(2, model::to_string(model::job_status::queued));
        requeue.bind(3, now_ms);
        db_->run(requeue, "requeueing job " + uuid);
        enter.bind(1, std::string_view(uuid));
        db_->run(enter, "putting job " + uuid + " back in the outbox");
    }
    txn.commit();
    return uuids;
}

std::vector<admin_job> sqlite_admin_store::list_stuck(std::int64_t updated_before_ms,
                                                      std::optional<model::job_type> type,
                                                      std::size_t limit) {
    sqlite_statement st(
        db_->handle(),
        select_sqlite_admin_jobs("WHERE NOT " + std::string(sqlite_outbox::waiting) +
                                 " AND job_status IN ('QUEUED', 'STARTED', 'IN_PROGRESS')"
                                 " AND updated_ms < ?1 AND fair_key IS NULL AND retry_at_ms IS NULL"
                                 " AND (?2 IS NULL OR job_type = ?2) ORDER BY updated_ms LIMIT ?3"));
    st.bind(1, updated_before_ms);
    if (type)
        st.bind(2, model::to_string(*type));
    else
        st.bind_null(2);
    st.bind(3, static_cast<std::int64_t>(limit));
    std::vector<admin_job> out;
    db_->each_row(st, "listing stuck jobs",
                  [&](sqlite_statement& r) { out.push_back(read_sqlite_admin_job(r)); });
    return out;
}

admin_result<admin_job> sqlite_admin_store::requeue_job(const std::string& uuid, std::int64_t now_ms) {
    write_transaction txn(*db_);
    auto found = find_job(uuid);
    if (!found) return found.error();
    const auto& job = found->job;
    if (job.status != model::job_status::started && job.status != model::job_status::in_progress)
        return admin_errc::not_running;
    sqlite_statement cancel(db_->handle(),
                            "INSERT INTO job_controls (uuid, job_type, kind, attempt, created_ms)"
                            " VALUES (?1, ?2, 'cancel', ?3, ?4)");
    cancel.bind(1, std::string_view(uuid));
    cancel.bind(2, model::to_string(job.type));
    cancel.bind(3, static_cast<std::int64_t>(job.attempt));
    cancel.bind(4, now_ms);
    db_->run(cancel, "queueing the cancel of job " + uuid);
    sqlite_statement requeue(db_->handle(),
                             "UPDATE jobs SET job_status = ?2, attempt = attempt + 1, progress = NULL,"
                             " output = NULL, cancel_requested_ms = NULL, updated_ms = max(updated_ms, ?3)"
                             " WHERE uuid = ?1");
    requeue.bind(1, std::string_view(uuid));
    requeue.bind(2, model::to_string(model::job_status::queued));
    requeue.bind(3, now_ms);
    db_->run(requeue, "requeueing job " + uuid);
    sqlite_statement enter(db_->handle(), sqlite_outbox::enter);
    enter.bind(1, std::string_view(uuid));
    db_->run(enter, "putting job " + uuid + " back in the outbox");
    auto after = find_job(uuid);
    txn.commit();
    return after;
}

}  // namespace jobsd::store

// The admin store over PostgreSQL: the same database, schema and migrations as pg_store, used
// by a short-lived tool through one blocking libpq connection beside any number of jobsd.
//
// Thread safety: none; the connection belongs to the thread that opened the store.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/admin_store.hpp"
#include "store/admin_store_rules.hpp"
#include "store/pg_connection.hpp"

namespace jobsd::store {

struct pg_admin_options {
    // postgres://[user[:password]@]host[:port]/dbname[?param=value…], as libpq takes it.
    std::string url;
    // How long connecting may take; a tool should say the server is unreachable, not hang.
    std::chrono::milliseconds connect_timeout{5000};
};

class pg_admin_store final : public admin_store {
  public:
    // Connects and migrates (under pg_store's advisory lock). Throws pg_error on failure.
    explicit pg_admin_store(pg_admin_options options);
    ~pg_admin_store() override;

    admin_result<void> create_account(const account_info& account) override;
    std::vector<account_info> list_accounts() override;
    admin_result<void> add_api_key(const std::string& account_id, const std::string& key_hash,
                                   const std::string& prefix, std::int64_t now_ms) override;
    std::vector<api_key_info> list_api_keys(const api_key_filter& filter) override;
    admin_result<api_key_info> revoke_api_key(const std::string& prefix, std::int64_t now_ms) override;
    void add_operator_key(const std::string& key_hash, const std::string& prefix, const std::string& name,
                          std::int64_t now_ms) override;
    std::vector<operator_key_info> list_operator_keys() override;
    admin_result<operator_key_info> revoke_operator_key(const std::string& prefix,
                                                        std::int64_t now_ms) override;
    admin_result<void> put_project(const model::project& project) override;
    std::vector<model::project> list_projects(const std::string& account_id) override;
    admin_result<void> put_image_prompt(const model::image_prompt& prompt) override;
    std::vector<model::image_prompt> list_image_prompts(const std::string& account_id) override;
    admin_result<admin_job> find_job(const std::string& uuid) override;
    std::vector<admin_job> list_unpublished(std::size_t limit) override;
    std::vector<std::string> requeue_dead_lettered(model::job_type type, std::size_t limit,
                                                   std::int64_t now_ms) override;
    std::vector<admin_job> list_stuck(std::int64_t updated_before_ms, std::optional<model::job_type> type,
                                      std::size_t limit) override;
    admin_result<admin_job> requeue_job(const std::string& uuid, std::int64_t now_ms) override;

  private:
    using params = std::vector<std::optional<std::string>>;
    // Runs one parameterized statement; throws pg_error naming `what` on any failure.
    pg_reply exec(std::string_view sql, const params& p, std::string_view what);
    bool account_exists(const std::string& account_id);
    // Finds the keys with `prefix` in `table` (api_keys or operator_keys) and revokes the one live
    // key, as choose_key_to_revoke decides, inside the caller's transaction.
    revoke_choice revoke_by_prefix(std::string_view table, const std::string& prefix, std::int64_t now_ms);

    pg_conn_ptr conn_;
};

}  // namespace jobsd::store

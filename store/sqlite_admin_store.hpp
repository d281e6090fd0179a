// The admin store over the embedded SQLite file: the same file, schema and migrations as
// sqlite_store, opened by a short-lived tool beside (or without) a running jobsd.
//
// Thread safety: none; the connection belongs to the thread that opened the store.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>

#include "store/admin_store.hpp"

namespace jobsd::store {

class sqlite_db;

struct sqlite_admin_options {
    // The database file (store.url's path); created and migrated when missing, as jobsd does.
    std::filesystem::path path = "var/jobsd.db";
    // How long a statement waits for a live jobsd's writer to release the write lock. Its group
    // commits hold the lock for milliseconds; a tool can afford to wait rather than fail.
    std::chrono::milliseconds busy_timeout{10'000};
};

class sqlite_admin_store final : public admin_store {
  public:
    // Opens (creating if needed) and migrates the database. Throws sqlite_error on failure.
    explicit sqlite_admin_store(sqlite_admin_options options);
    ~sqlite_admin_store() override;

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
    bool account_exists(const std::string& account_id);
    // The account owning `id` in `table` (projects or image_prompts), "" when there is none.
    std::string owner_of(std::string_view table, const std::string& id);

    std::unique_ptr<sqlite_db> db_;
};

}  // namespace jobsd::store

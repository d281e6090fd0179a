// The webhook store over the SQLite file: its writes run on sqlite_store's writer thread, inside
// the group-commit batches (so recording an attempt costs no fsync of its own), its reads on the
// reader threads. One jobsd per file, so claims only keep one delivery from being sent twice at once.
//
// Thread safety: every member may be called from any thread; operations go through the queues
// of the sqlite_store that owns this object.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "store/webhook_store.hpp"

namespace jobsd::store {

struct sqlite_write_op;  // store/sqlite_ops.hpp
struct sqlite_read_op;

class sqlite_webhook_store final : public webhook_store {
  public:
    using write_submitter = std::function<void(std::unique_ptr<sqlite_write_op>)>;
    using read_submitter = std::function<void(std::unique_ptr<sqlite_read_op>)>;

    // `write` and `read` queue an operation on the owning store's threads (or fail it at once).
    sqlite_webhook_store(write_submitter write, read_submitter read)
        : write_(std::move(write)), read_(std::move(read)) {}

    void create_endpoint(webhook_endpoint endpoint, std::string secret,
                         webhook_handler<bool> handler) override;
    void list_endpoints(std::string account_id,
                        webhook_handler<std::vector<webhook_endpoint>> handler) override;
    void delete_endpoint(std::string account_id, std::string id, webhook_handler<bool> handler) override;
    void account_secret(std::string account_id, std::string candidate,
                        webhook_handler<std::string> handler) override;
    void rotate_secret(std::string account_id, std::string owner, std::string secret, std::int64_t now_ms,
                       std::int64_t previous_until_ms, webhook_handler<bool> handler) override;
    void list_deliveries(std::string account_id, std::string owner, std::size_t limit,
                         webhook_handler<std::optional<std::vector<delivery_info>>> handler) override;
    void redeliver(std::string account_id, std::string delivery_id, std::int64_t now_ms,
                   webhook_handler<bool> handler) override;
    void claim_deliveries(claim_request request, webhook_handler<std::vector<due_delivery>> handler) override;
    void finish_attempts(std::vector<attempt_record> attempts, webhook_handler<std::size_t> handler) override;
    void release_claims(webhook_handler<std::size_t> handler) override;
    void read_webhook_stats(std::int64_t now_ms, webhook_handler<webhook_stats> handler) override;
    void recent_attempts(std::size_t limit, webhook_handler<std::vector<recent_attempt>> handler) override;

  private:
    void claim_on_writer(claim_request request, webhook_handler<std::vector<due_delivery>> handler);

    write_submitter write_;
    read_submitter read_;
    // The last claim took deliveries (a backlog is being worked through): the next one goes
    // straight to the writer, since a reader's look would only scan the same rows once more.
    std::atomic<bool> last_claim_found_{false};
};

}  // namespace jobsd::store

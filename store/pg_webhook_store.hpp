// The webhook store over PostgreSQL: its operations run on pg_store's pooled connections, writes
// inside the group-commit pipelines. Several jobsd share the deliveries as they share the outbox:
// a claim holds a delivery for one instance until its lease ends (FOR UPDATE SKIP LOCKED, so two
// never claim one at once), and another instance takes it over after that.
//
// Thread safety: every member may be called from any thread; operations go through the queues of
// the pg_store that owns this object.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "store/webhook_store.hpp"

namespace jobsd::store {

struct pg_op;  // store/pg_ops.hpp

class pg_webhook_store final : public webhook_store {
  public:
    using submitter = std::function<void(std::unique_ptr<pg_op>)>;

    // `submit` queues an operation on the owning store's connections (or fails it at once);
    // `instance` names this jobsd in claims (pg_options::instance_id).
    pg_webhook_store(submitter submit, std::string instance)
        : submit_(std::move(submit)), instance_(std::move(instance)) {}

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
    submitter submit_;
    const std::string instance_;
};

}  // namespace jobsd::store

// The webhook store over the SQLite file: its writes run on sqlite_store's writer thread, inside
// the group-commit batches (so recording an attempt costs no fsync of its own), its reads on the
// reader threads. One jobsd per file, so nothing is shared and claims need no lease or row: the
// status-change transactions hand their new deliveries over in memory once committed
// (delivery_board), a claim takes them from there and reads their rows on a reader, and the
// table is swept only for what memory may not know (at start, retries coming due, a redelivery,
// a failed read). A first attempt that succeeds costs the writer one UPDATE.
//
// Thread safety: every member may be called from any thread; operations go through the queues
// of the sqlite_store that owns this object; the board is guarded by board_mutex_.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "store/delivery_board.hpp"
#include "store/delivery_inbox.hpp"
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

    // Deliveries a status-change transaction recorded, called by the writer once it committed:
    // into the inbox, never waiting for board_mutex_ (store/delivery_inbox.hpp).
    void handed_over(std::vector<board_entry>&& fresh);

  private:
    // Picks from the board and reads the picked rows on a reader.
    void take(claim_request request, webhook_handler<std::vector<due_delivery>> handler);
    // Takes the inbox into the board; board_mutex_ held.
    void absorb_inbox();

    write_submitter write_;
    read_submitter read_;
    std::mutex board_mutex_;
    delivery_board board_;  // guarded by board_mutex_
    delivery_inbox inbox_;
};

}  // namespace jobsd::store

// Where the SQLite writer leaves the webhook deliveries a commit made, for the dispatcher's next
// claim to take into the delivery_board. Its own mutex is held only to append or to swap, so the
// writer never waits for the board's mutex: the dispatcher's thread holds that one while it picks
// and sweeps, and it runs at webhooks.nice. Preempted there on a busy machine, it held up the
// writer, and every create's answer behind it, until the scheduler ran it again
// (bench/RESULTS.md, issue 15: creates took twice as long with webhooks on, at the same CPU).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "store/delivery_board.hpp"

namespace jobsd::store {

class delivery_inbox {
  public:
    explicit delivery_inbox(std::size_t max = delivery_board::ready_max) : max_(max) {}

    // Committed deliveries, kept in order. Past `max` waiting, they are left to the table alone
    // and the next take() says so (a sweep finds them).
    void put(std::vector<board_entry>&& fresh);

    struct taken {
        std::vector<board_entry> entries;
        bool overflowed = false;  // some were left to the table since the last take()
    };
    // Everything waiting, oldest first; the inbox is empty after.
    taken take();

  private:
    const std::size_t max_;
    std::mutex mutex_;
    std::vector<board_entry> entries_;  // guarded by mutex_
    bool overflowed_ = false;           // guarded by mutex_
};

}  // namespace jobsd::store

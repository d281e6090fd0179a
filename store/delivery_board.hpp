// The webhook deliveries a store with no sharing (SQLite: one jobsd per file) keeps in memory
// instead of claims in its table: those ready to send, by destination, as the status-change
// transactions handed them over or a sweep of the table found them, and those held (claimed by
// the dispatcher until its attempt is recorded). Sans-I/O: the owner reads the table and calls in.
//
// Thread safety: none; the owner (sqlite_webhook_store) guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "store/webhook_store.hpp"

namespace jobsd::store {

// A pending delivery as the board knows it: its row and what its concurrency counts by.
struct board_entry {
    std::int64_t seq = 0;
    std::string dest;
};

class delivery_board {
  public:
    // Ready deliveries kept at most: beyond it new ones stay in the table alone and a sweep finds
    // them when there is room (a dispatcher that cannot keep up must not grow jobsd's memory
    // without bound). 100 000 entries are a few MB.
    static constexpr std::size_t ready_max = 100'000;
    // A sweep of the table at most this often while the board has ready deliveries (retries come
    // due, another process made one due), and this often while it has none: an idle dispatcher's
    // poll costs one indexed read at most every idle_sweep_ms.
    static constexpr std::int64_t busy_sweep_ms = 1'000;
    static constexpr std::int64_t idle_sweep_ms = 250;
    // A sweep reads every ready delivery again (sweep_limit), so with a backlog the busy interval
    // grows by busy_sweep_ms per this many ready: a backlog of 50 000 (creates saturating the
    // machine, deliveries giving way) was read whole every second, on a reader, and added again
    // under the owner's mutex. What a sweep would find meanwhile (made due by another
    // process) is picked after the older ready ones anyway, which take at least as long to send.
    static constexpr std::size_t busy_sweep_rows = 4'096;

    // New deliveries, committed. Held ones and those already ready are skipped.
    void add(const std::vector<board_entry>& entries);
    // Whether the table must be read before picking, at `now_ms`; when true the sweep counts as
    // started (the next one waits its interval: idle_sweep_ms with none ready, busy_sweep_ms per
    // started busy_sweep_rows ready).
    bool sweep_due(std::int64_t now_ms);
    // Rows a sweep should read: every ready and held one may come back, plus room for new ones.
    std::size_t sweep_limit(std::size_t wanted) const;
    // The sweep's rows at `now_ms`, read with `limit`: added like add(); a retry due by then is
    // covered; a full answer may have left more behind, so the next claim sweeps again.
    void swept(const std::vector<board_entry>& rows, std::size_t limit, std::int64_t now_ms);
    // Something may be due that the board does not know of (start, a failed read, a redelivery):
    // the next claim sweeps.
    void want_sweep() noexcept { sweep_now_ = true; }
    // A retry was recorded: a sweep at `next_ms` finds it.
    void retry_at(std::int64_t next_ms) noexcept;

    // The oldest ready deliveries for `r` (at most r.limit, r.per_dest of one destination, none of
    // r.skip), now held; the caller reads their rows and calls claimed() with what it read.
    std::vector<std::int64_t> pick(const claim_request& r);
    // The rows read for picked seqs: their ids stay held; picked seqs not among them (no longer
    // pending or not due) are released.
    void claimed(const std::vector<std::int64_t>& picked,
                 const std::vector<std::pair<std::int64_t, std::string>>& ids);
    // Reading the picked rows failed: released, and the next claim sweeps.
    void unpick(const std::vector<std::int64_t>& picked);
    // Attempts of these delivery ids are recorded: sendable again when the table says so.
    void release(const std::vector<std::string>& ids);
    // Every hold dropped (a restart of the dispatcher); how many there were.
    std::size_t release_all();

    std::size_t ready() const noexcept { return ready_count_; }
    std::size_t held() const noexcept { return held_seqs_.size(); }

  private:
    void insert(const board_entry& e);

    std::map<std::string, std::set<std::int64_t>> ready_;  // by destination, oldest (lowest seq) first
    std::size_t ready_count_ = 0;
    std::unordered_set<std::int64_t> held_seqs_;
    std::unordered_map<std::string, std::int64_t> held_ids_;  // of the held seqs whose row was read
    bool sweep_now_ = true;                                   // nothing is known at start
    bool overflowed_ = false;  // entries were left in the table for want of room
    std::int64_t last_sweep_ms_ = 0;
    std::int64_t retry_due_ms_ = std::numeric_limits<std::int64_t>::max();
};

}  // namespace jobsd::store

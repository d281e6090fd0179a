// The control publisher's bookkeeping, with no I/O: which control messages it knows (so that
// none is sent twice at once), what waits to be sent, and when to read the control outbox
// again. Time is passed in, never read from the clock.
//
// A message is known from the moment a read of the outbox returns it until the store confirms
// its removal (after the broker confirmed it), or until its send failed or its connection went
// (then it is forgotten and the next read finds it again). A read skips every known message.
// The outbox is read at every connect, when poked (this instance committed a message), and
// every poll interval (messages committed by other instances or by jobsctl); one read at a time.
//
// Thread safety: none; owned by the control publisher's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

#include "queue/control_outbox.hpp"

namespace jobsd::queue {

class control_ledger {
  public:
    using clock = std::chrono::steady_clock;

    explicit control_ledger(std::chrono::milliseconds poll_interval) : poll_interval_(poll_interval) {}

    // ---- the connection
    void connected(clock::time_point now);
    // Forgets what waited and what was unconfirmed (`unconfirmed`, from the confirm tracker);
    // messages being removed stay known. A read in flight is given up.
    void disconnected(const std::vector<std::int64_t>& unconfirmed);

    // ---- reading the outbox
    // Read again as soon as possible (this instance just committed a message).
    void poke() noexcept { poked_ = true; }
    // True when a read should start now (connected, none in flight, due or poked); it is then
    // in flight until read_done().
    bool start_read(clock::time_point now);
    // The read's answer (`ok` false: the store failed; tried again after the poll interval):
    // queues the unknown messages; returns how many.
    std::size_t read_done(bool ok, std::vector<control_outbox::entry> entries, clock::time_point now);

    // ---- sending
    bool has_next() const noexcept { return !waiting_.empty(); }
    const control_outbox::entry& next() const noexcept { return waiting_.front(); }
    control_outbox::entry pop_next();  // precondition: has_next(); it stays known

    // ---- outcomes
    // Nacked or returned: forgotten, found again by a later read.
    void failed(const std::vector<std::int64_t>& seqs);
    // The store's answer to removing confirmed messages: forgotten either way (a failed removal
    // leaves them in the outbox, and a later read sends them again: harmless, cancels repeat).
    void removed(const std::vector<std::int64_t>& seqs);

    // When the next read falls due; max() while one is in flight or nothing is connected.
    clock::time_point next_deadline() const noexcept;

    // ---- observers
    bool known(std::int64_t seq) const { return known_.contains(seq); }
    std::size_t known_count() const noexcept { return known_.size(); }
    bool read_in_flight() const noexcept { return reading_; }

  private:
    const std::chrono::milliseconds poll_interval_;
    std::unordered_set<std::int64_t> known_;
    std::deque<control_outbox::entry> waiting_;
    bool connected_ = false;
    bool reading_ = false;
    bool poked_ = false;
    std::uint64_t generation_ = 0;       // bumped by disconnected(): answers of an older one are dropped
    std::uint64_t read_generation_ = 0;  // the generation the read in flight belongs to
    clock::time_point next_read_{};
};

}  // namespace jobsd::queue

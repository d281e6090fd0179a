// The publisher's relay and dedupe bookkeeping, with no I/O: which jobs it knows (so that none
// is sent twice), the send and retry queues, and the sweep of the outbox (its cursor, when one
// is due, what a claimed page contributes). Time is passed in, never read from the clock.
//
// A uuid is known from the moment the publisher takes it (handed over by the server, or read
// in a claimed page) while it waits to be sent, is unconfirmed, waits for a retry or is being
// marked published, and for `retire_after` once marked: a page read from a snapshot older than
// the mark must not send it again. A page skips every known uuid.
//
// Order: the send queue is two queues, handed-over jobs (and retries) and relayed ones; the
// older of their two fronts (created_ms) goes first, so a sweep of a backlog gets its share
// of the confirm window even while the server hands over more than the broker takes, and
// publishing stays roughly oldest first.
//
// Thread safety: none; owned by the publisher thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "model/job.hpp"
#include "queue/amqp_options.hpp"
#include "queue/job_message.hpp"
#include "queue/outbox.hpp"

namespace jobsd::queue {

class relay_ledger {
  public:
    using clock = std::chrono::steady_clock;

    struct options {
        // Handed-over jobs the send queue holds (amqp.publish_queue_max); relayed jobs come on
        // top, at most two pages.
        std::size_t send_queue_max = 8192;
        // Outbox rows per claimed page (amqp.relay_batch).
        std::size_t relay_batch = 512;
        // A sweep of the whole outbox at least this often (amqp.relay_interval_ms).
        std::chrono::milliseconds relay_interval{30'000};
        // A nacked or returned job, and a page whose claim failed, are tried again after this
        // (amqp.retry_delay_ms).
        std::chrono::milliseconds retry_delay{1'000};
        // How long a uuid marked published stays known. Longer than any claim takes, so a page
        // read before the mark committed cannot send the job again.
        std::chrono::milliseconds retire_after{10'000};

        static options from(const amqp_options& o);
    };

    // The next page to claim: rows with seq > after_seq, at most `limit`. `sweep` comes back
    // with the answer, so an answer from a sweep given up since (a reconnect) is recognised.
    struct claim_request {
        std::uint64_t sweep = 0;
        std::int64_t after_seq = 0;
        std::size_t limit = 0;
    };

    explicit relay_ledger(options o);

    // ---- the connection
    // A sweep of the whole outbox is due now, a safety sweep every relay_interval from now.
    void connected(clock::time_point now);
    // The channel is gone: what waited to be sent, waited for a retry or was unconfirmed
    // (`unconfirmed`, from the confirm tracker) is forgotten, since it is still unpublished and
    // the next sweep sends it; uuids being marked or retiring stay known. Any claim in flight
    // is given up.
    void disconnected(const std::vector<job_message>& unconfirmed);

    // ---- the fast path
    // How many handed-over jobs the send queue takes now.
    std::size_t hand_over_room() const noexcept;
    // A job the server handed over at `handed_at`: queued unless known already (false). One
    // that waited longer than retire_after / 2 is left to the relay instead (false, and a sweep
    // is requested): meanwhile a page may have sent it, had it marked and forgotten it.
    bool hand_over(const model::job& job, clock::time_point handed_at, clock::time_point now);
    // A job was left in the outbox (deferred) or a mark failed: sweep again after the current
    // sweep (or at once when none runs; a sweep running for relay_interval starts over).
    void request_sweep() noexcept { again_ = true; }

    // ---- sending
    // Moves the retries that are due into the send queue; returns how many.
    std::size_t release_retries(clock::time_point now);
    bool has_next() const noexcept { return !fresh_.empty() || !relayed_.empty(); }
    // The next message to send (precondition: has_next()), left in place so that a failed send
    // leaves it where disconnected() finds it; pop_next() then hands it over (to the confirm
    // tracker) once sent. It stays known until marked.
    const job_message& next() const noexcept { return relayed_first() ? relayed_.front() : fresh_.front(); }
    job_message pop_next();

    // ---- outcomes
    // Nacked or returned messages: sent again after retry_delay.
    void failed(std::vector<job_message> messages, clock::time_point now);
    // The store's answer to marking confirmed uuids published: on success they retire after
    // retire_after; on failure they are forgotten and a sweep is requested (still unpublished).
    void marked(const std::vector<std::string>& uuids, bool ok, clock::time_point now);

    // ---- the relay
    // The page to claim now, if any: a sweep is running or due, no claim is in flight, and the
    // relayed queue has room for a page.
    std::optional<claim_request> next_claim(clock::time_point now);
    // The answer to a claim: queues the unknown jobs (returns how many); a short page ends the
    // sweep, a full one moves the cursor past it. Answers to a given-up sweep are ignored.
    std::size_t page_claimed(std::uint64_t sweep, std::vector<outbox::entry> entries, clock::time_point now);
    // The store could not answer a claim: the same page is claimed again after retry_delay.
    void claim_failed(std::uint64_t sweep, clock::time_point now);

    // The earliest time something falls due (a retry, a sweep, a claim retry); max() if none.
    clock::time_point next_deadline() const noexcept;

    // ---- observers, for tests and logs
    bool known(const std::string& uuid) const { return known_.contains(uuid); }
    std::size_t known_count() const noexcept { return known_.size(); }
    bool sweeping() const noexcept { return sweeping_; }
    bool claim_in_flight() const noexcept { return claim_in_flight_; }
    std::int64_t cursor() const noexcept { return cursor_; }
    std::size_t queued() const noexcept { return fresh_.size() + relayed_.size(); }
    std::size_t retries() const noexcept { return retry_.size(); }

  private:
    bool relayed_first() const noexcept {
        return fresh_.empty() ||
               (!relayed_.empty() && relayed_.front().created_ms <= fresh_.front().created_ms);
    }
    void retire(clock::time_point now);
    void forget(const std::string& uuid) { known_.erase(uuid); }

    const options options_;
    std::unordered_set<std::string> known_;
    std::deque<job_message> fresh_;    // handed over, and retries
    std::deque<job_message> relayed_;  // from claimed pages
    std::deque<std::pair<clock::time_point, job_message>> retry_;
    std::deque<std::pair<clock::time_point, std::vector<std::string>>> retiring_;  // marked at

    bool connected_ = false;
    bool sweeping_ = false;
    bool again_ = false;  // a sweep was requested
    bool claim_in_flight_ = false;
    std::uint64_t sweep_id_ = 0;
    std::int64_t cursor_ = 0;
    clock::time_point sweep_started_{};
    clock::time_point next_safety_sweep_ = clock::time_point::max();
    clock::time_point claim_retry_at_{};
};

}  // namespace jobsd::queue

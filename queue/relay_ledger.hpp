// The publisher's relay and dedupe bookkeeping, with no I/O: which jobs it knows (so that none
// is sent twice), the send and retry queues, and the sweep of the outbox (its cursor, when one
// is due, what a claimed page contributes). Time is passed in, never read from the clock.
//
// A job's attempt is known from the moment the publisher takes it (handed over by the server, or
// read in a claimed page) while it waits to be sent, is unconfirmed, waits for a retry or is
// being marked published, and for `retire_after` once marked (longer while a claim asked before
// the mark was answered is in flight): a page read from a snapshot older than the mark must not
// send it again. A page skips every known attempt. A retry keeps the job's uuid but is an
// attempt of its own: it is sent even while the earlier attempt is still held or retiring, and
// the earlier one's confirm marks only that attempt (queue/outbox.hpp).
//
// Order: the send queue is two queues, handed-over jobs and relayed ones; the older of their
// two fronts (created_ms) goes first, so a sweep of a backlog gets its share of the confirm
// window even while the server hands over more than the broker takes, and publishing stays
// roughly oldest first. (Priorities and fairness between accounts would weigh the fronts here.)
// While a sweep is in a backlog (its last page was full and brought jobs not held) and the
// next page is on its way, the relayed queue may run empty; a handed-over job created after the
// last page's newest then waits for that page rather than go ahead of jobs older than itself.
// Otherwise a slow database (a claim taking longer than a page takes to send) would let the
// newest jobs go first for as long as the backlog lasts, and the backlog age without bound.
//
// Failures: a nacked or returned message is not retried from memory. Its type is paused
// (type_pauses): its queued messages are dropped, pages and hand-overs skip it, and its jobs
// wait in the outbox; when the pause ends a sweep starts from the beginning and sends them.
// So an unroutable type or a full queue costs one message per pause, not a loop.
//
// Claims: on a store shared by several instances a claim on an unpublished job holds for a
// lease. Every job the publisher holds (queued, unconfirmed, being marked) has its claim
// renewed every relay_interval / 2 (next_renewal), and a hand-over that waited longer than
// that is left to the relay, so no claim the publisher relies on lapses while it waits. Each
// held job also keeps the start of the last claim on it the store confirmed (a create, a page,
// a renewal: when the request was made, so the lease surely ran from later); a job whose lease
// may be over within relay_interval / 2 is not sent but left to the relay (drop_lapsed), and
// one whose renewal the store did not confirm (another instance took it) is never sent. So
// however late renewals come, two instances never publish one job because a lease lapsed.
//
// Thread safety: none; owned by the publisher thread.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/job.hpp"
#include "queue/amqp_options.hpp"
#include "queue/job_message.hpp"
#include "queue/outbox.hpp"
#include "queue/type_pauses.hpp"

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
        // A page whose claim failed is claimed again after this, and the first pause of a type
        // whose message was nacked or returned lasts this long (amqp.retry_delay_ms).
        std::chrono::milliseconds retry_delay{1'000};
        // A type's pause doubles up to this while its messages keep failing
        // (amqp.type_pause_max_ms).
        std::chrono::milliseconds type_pause_max{10'000};
        // How long a uuid marked published stays known, and longer while a claim asked before
        // its mark was answered is still in flight: a page read before the mark committed
        // cannot send the job again, however slow the store.
        std::chrono::milliseconds retire_after{10'000};
        // How long a claim holds on the store (outbox::claim_lease); zero: no leases, one
        // instance, nothing lapses.
        std::chrono::milliseconds claim_lease{0};

        static options from(const amqp_options& o, std::chrono::milliseconds claim_lease);
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
    // The channel is gone: what waited to be sent or was unconfirmed (`unconfirmed`, from the
    // confirm tracker) is forgotten, since it is still unpublished and the next sweep sends it;
    // uuids being marked or retiring stay known. Any claim in flight is given up. Type pauses
    // run on.
    void disconnected(const std::vector<job_message>& unconfirmed);

    // ---- the fast path
    // How many handed-over jobs the send queue takes now.
    std::size_t hand_over_room() const noexcept;
    // A job the server handed over at `handed_at`, created (and so claimed, by its insert, no
    // earlier than) at `created_at`: queued unless known already or its type is paused (false).
    // One that waited longer than retire_after / 2 or relay_interval / 2 is left to the relay
    // instead (false, and a sweep is requested): meanwhile a page may have sent it, had it
    // marked and forgotten it, or its claim may have come close to lapsing.
    bool hand_over(const model::job& job, clock::time_point created_at, clock::time_point handed_at,
                   clock::time_point now);
    // A job was left in the outbox (deferred) or a mark failed: sweep again after the current
    // sweep (or at once when none runs; a sweep running for relay_interval starts over).
    void request_sweep() noexcept { again_ = true; }

    // ---- sending
    // Ends the type pauses due by now (a sweep from the beginning then sends their jobs);
    // returns the types that may send again.
    std::vector<std::string> release_pauses(clock::time_point now);
    bool has_next() const noexcept { return !relayed_.empty() || (!fresh_.empty() && !hand_overs_wait()); }
    // Drops the messages next in line whose claim may lapse within relay_interval / 2 or was
    // taken over (they stay in the outbox; a sweep from the beginning starts at the next claim,
    // so they go before the newer jobs the running sweep would read next, and its page claims
    // them again unless another instance holds them); returns how many. Call before next().
    std::size_t drop_lapsed(clock::time_point now);
    // The next message to send (precondition: has_next()), left in place so that a failed send
    // leaves it where disconnected() finds it; pop_next() then hands it over (to the confirm
    // tracker) once sent. It stays known until marked.
    const job_message& next() const noexcept { return relayed_first() ? relayed_.front() : fresh_.front(); }
    job_message pop_next();

    // ---- outcomes
    // Nacked or returned messages: forgotten (still unpublished) and their types paused; returns
    // the types whose pause starts now.
    std::vector<std::string> failed(const std::vector<job_message>& messages, clock::time_point now);
    // Confirmed messages: their types' next pause starts short again.
    void confirmed(const std::vector<job_message>& messages);
    // The store's answer to marking confirmed attempts published: on success they retire after
    // retire_after; on failure they are forgotten and a sweep is requested (still unpublished).
    // Returns how many were marked only after their claim may have lapsed (a database slower
    // than the lease, or a renewal refused): another instance may have claimed and sent them
    // meanwhile, a duplicate that at-least-once allows. A job is never sent on such a claim.
    std::size_t marked(const std::vector<model::job_attempt>& published, bool ok, clock::time_point now);

    // ---- the relay
    // The page to claim now, if any: a sweep is running or due, no claim is in flight, and the
    // relayed queue has room for a page.
    std::optional<claim_request> next_claim(clock::time_point now);
    // The answer to a claim: queues the unknown jobs (returns how many); a short page ends the
    // sweep, a full one moves the cursor past it. Answers to a given-up sweep are ignored.
    std::size_t page_claimed(std::uint64_t sweep, std::vector<outbox::entry> entries, clock::time_point now);
    // The store could not answer a claim: the same page is claimed again after retry_delay.
    void claim_failed(std::uint64_t sweep, clock::time_point now);

    // ---- claims on a shared store
    // The uuids whose claims to renew, when a renewal is due (every relay_interval / 2 while
    // connected): every job held and not yet marked published.
    std::optional<std::vector<std::string>> next_renewal(clock::time_point now);
    // The store's answer to a renewal of `asked` requested at `sent_at`: the claims of `renewed`
    // hold for a lease from then; the other held jobs asked for (and claimed no later since)
    // lost their claim and are not sent. Returns how many claims were lost.
    std::size_t renewed(const std::vector<std::string>& asked, const std::vector<std::string>& renewed,
                        clock::time_point sent_at);

    // The earliest time something falls due (a pause's end, a sweep, a claim retry, a
    // renewal); max() if none.
    clock::time_point next_deadline() const noexcept;

    // ---- observers, for tests and logs
    bool known(const std::string& uuid, int attempt = 1) const {
        return known_.contains(attempt_ref{uuid, attempt});
    }
    std::size_t known_count() const noexcept { return known_.size(); }
    bool sweeping() const noexcept { return sweeping_; }
    bool backlog() const noexcept { return backlog_; }
    bool claim_in_flight() const noexcept { return claim_in_flight_; }
    std::int64_t cursor() const noexcept { return cursor_; }
    std::size_t queued() const noexcept { return fresh_.size() + relayed_.size(); }
    bool paused(const std::string& job_type) const { return pauses_.paused(job_type); }
    std::vector<std::string> paused_types() const { return pauses_.paused_types(); }

  private:
    // A job's attempt, looked up without copying its uuid.
    struct attempt_ref {
        std::string_view uuid;
        int attempt = 1;
    };
    struct attempt_hash {
        using is_transparent = void;
        std::size_t operator()(attempt_ref k) const noexcept {
            return std::hash<std::string_view>{}(k.uuid) ^
                   (static_cast<std::size_t>(k.attempt) * 0x9e3779b97f4a7c15ULL);
        }
        std::size_t operator()(const model::job_attempt& k) const noexcept {
            return (*this)(attempt_ref{k.uuid, k.attempt});
        }
    };
    struct attempt_equal {
        using is_transparent = void;
        static attempt_ref ref(attempt_ref k) noexcept { return k; }
        static attempt_ref ref(const model::job_attempt& k) noexcept { return {k.uuid, k.attempt}; }
        template <class A, class B>
        bool operator()(const A& a, const B& b) const noexcept {
            return ref(a).uuid == ref(b).uuid && ref(a).attempt == ref(b).attempt;
        }
    };
    static attempt_ref ref_of(const job_message& m) noexcept { return {m.uuid, m.attempt}; }

    // An attempt the publisher knows: marked published (retiring) or held, with the start of the
    // last claim on it the store confirmed (min(): lost to another instance).
    struct known_job {
        bool retiring = false;
        clock::time_point claimed_at = clock::time_point::min();
    };
    // When the claim on a known job may end: max() with no leases, min() when lost.
    clock::time_point lease_end(const known_job& k) const noexcept;
    bool lapsed(const job_message& m, clock::time_point now) const;
    // A page of the backlog is on its way, and the handed-over front is newer than the last.
    bool hand_overs_wait() const noexcept {
        return backlog_ && claim_in_flight_ && relayed_.empty() &&
               fresh_.front().created_ms > backlog_edge_ms_;
    }
    bool relayed_first() const noexcept {
        return fresh_.empty() ||
               (!relayed_.empty() && relayed_.front().created_ms <= fresh_.front().created_ms);
    }
    void retire(clock::time_point now);
    void forget(attempt_ref k) {
        if (const auto it = known_.find(k); it != known_.end()) known_.erase(it);
    }
    void drop_queued(const std::string& job_type);
    std::chrono::milliseconds hand_over_limit() const;

    const options options_;
    // Open addressing: a lookup is one probe of a flat array, not a walk of a bucket's nodes; it
    // holds every job marked within retire_after (about 200 000 at 20 000 jobs/s).
    boost::unordered_flat_map<model::job_attempt, known_job, attempt_hash, attempt_equal> known_;
    std::deque<job_message> fresh_;    // handed over
    std::deque<job_message> relayed_;  // from claimed pages
    std::deque<std::pair<clock::time_point, std::vector<model::job_attempt>>> retiring_;  // marked at
    type_pauses pauses_;

    bool connected_ = false;
    bool sweeping_ = false;
    // The running sweep's last page was full and brought jobs not held; created_ms of its last.
    bool backlog_ = false;
    std::int64_t backlog_edge_ms_ = 0;
    bool again_ = false;    // a sweep was requested
    bool restart_ = false;  // a sweep from the beginning is needed now (a type resumed)
    bool claim_in_flight_ = false;
    std::uint64_t sweep_id_ = 0;
    std::int64_t cursor_ = 0;
    clock::time_point sweep_started_{};
    clock::time_point next_safety_sweep_ = clock::time_point::max();
    clock::time_point claim_retry_at_{};
    clock::time_point claim_sent_at_{};  // of the claim in flight
    clock::time_point next_renewal_ = clock::time_point::max();
};

}  // namespace jobsd::queue

// Sweeps are numbered: each start (and each disconnect) takes a new number, and a claim's
// answer counts only for the sweep it was made for.
#include "queue/relay_ledger.hpp"

#include <algorithm>
#include <unordered_set>

namespace jobsd::queue {

relay_ledger::options relay_ledger::options::from(const amqp_options& o,
                                                  std::chrono::milliseconds claim_lease) {
    options out;
    out.claim_lease = claim_lease;
    out.send_queue_max = o.publish_queue_max;
    out.relay_batch = o.relay_batch;
    out.relay_interval = o.relay_interval;
    out.retry_delay = o.retry_delay;
    out.type_pause_max = o.type_pause_max;
    return out;
}

relay_ledger::relay_ledger(options o) : options_(o), pauses_({o.retry_delay, o.type_pause_max}) {}

void relay_ledger::connected(clock::time_point now) {
    connected_ = true;
    again_ = true;
    next_safety_sweep_ = now + options_.relay_interval;
    next_renewal_ = now + options_.relay_interval / 2;
}

void relay_ledger::disconnected(const std::vector<job_message>& unconfirmed) {
    for (const auto& m : unconfirmed) forget(ref_of(m));
    for (const auto& m : fresh_) forget(ref_of(m));
    for (const auto& m : relayed_) forget(ref_of(m));
    fresh_.clear();
    relayed_.clear();
    connected_ = false;
    sweeping_ = false;
    backlog_ = false;
    claim_in_flight_ = false;
    next_renewal_ = clock::time_point::max();
    ++sweep_id_;
}

std::size_t relay_ledger::hand_over_room() const noexcept {
    return fresh_.size() < options_.send_queue_max ? options_.send_queue_max - fresh_.size() : 0;
}

std::chrono::milliseconds relay_ledger::hand_over_limit() const {
    return std::min(options_.retire_after, options_.relay_interval) / 2;
}

bool relay_ledger::hand_over(const model::job& job, clock::time_point created_at, clock::time_point handed_at,
                             clock::time_point now) {
    // Retire first: nothing else may prune the list before the next mark or claim.
    retire(now);
    if (now - handed_at >= hand_over_limit()) {
        again_ = true;
        return false;
    }
    if (pauses_.paused(std::string(model::to_string(job.type))))
        return false;  // the sweep after the pause sends it
    if (!known_.try_emplace(model::job_attempt{job.uuid, job.attempt}, known_job{false, created_at}).second)
        return false;
    fresh_.push_back(make_job_message(job));
    return true;
}

std::vector<std::string> relay_ledger::release_pauses(clock::time_point now) {
    auto resumed = pauses_.release(now);
    if (!resumed.empty()) restart_ = true;
    return resumed;
}

relay_ledger::clock::time_point relay_ledger::lease_end(const known_job& k) const noexcept {
    if (options_.claim_lease == std::chrono::milliseconds::zero()) return clock::time_point::max();
    if (k.claimed_at == clock::time_point::min()) return clock::time_point::min();
    return k.claimed_at + options_.claim_lease;
}

bool relay_ledger::lapsed(const job_message& m, clock::time_point now) const {
    // No leases (one instance): nothing lapses, and a send needs no lookup to say so.
    if (options_.claim_lease == std::chrono::milliseconds::zero()) return false;
    const auto it = known_.find(ref_of(m));
    if (it == known_.end()) return true;
    const auto end = lease_end(it->second);
    return end == clock::time_point::min() || now >= end - options_.relay_interval / 2;
}

std::size_t relay_ledger::drop_lapsed(clock::time_point now) {
    std::size_t dropped = 0;
    while (has_next() && lapsed(next(), now)) {
        forget(ref_of(pop_next()));
        restart_ = true;  // it is older than what the running sweep reads next
        ++dropped;
    }
    return dropped;
}

job_message relay_ledger::pop_next() {
    auto& from = relayed_first() ? relayed_ : fresh_;
    job_message m = std::move(from.front());
    from.pop_front();
    return m;
}

void relay_ledger::drop_queued(const std::string& job_type) {
    auto drop = [&](std::deque<job_message>& q) {
        std::erase_if(q, [&](const job_message& m) {
            if (m.job_type != job_type) return false;
            forget(ref_of(m));
            return true;
        });
    };
    drop(fresh_);
    drop(relayed_);
}

std::vector<std::string> relay_ledger::failed(const std::vector<job_message>& messages,
                                              clock::time_point now) {
    std::vector<std::string> started;
    for (const auto& m : messages) {
        forget(ref_of(m));
        if (pauses_.failed(m.job_type, now)) {
            drop_queued(m.job_type);
            started.push_back(m.job_type);
        }
    }
    return started;
}

void relay_ledger::confirmed(const std::vector<job_message>& messages) {
    for (const auto& m : messages) pauses_.confirmed(m.job_type);
}

std::size_t relay_ledger::marked(const std::vector<model::job_attempt>& published, bool ok,
                                 clock::time_point now) {
    std::size_t late = 0;
    if (ok) {
        for (const auto& p : published) {
            const auto it = known_.find(p);
            if (it == known_.end()) continue;
            it->second.retiring = true;
            late += now >= lease_end(it->second);
        }
        retiring_.emplace_back(now, published);
    } else {
        for (const auto& p : published) forget({p.uuid, p.attempt});
        again_ = true;
    }
    retire(now);
    return late;
}

std::optional<relay_ledger::claim_request> relay_ledger::next_claim(clock::time_point now) {
    if (!connected_ || claim_in_flight_) return std::nullopt;
    const bool start = restart_ || (sweeping_ ? again_ && now - sweep_started_ >= options_.relay_interval
                                              : again_ || now >= next_safety_sweep_);
    if (start) {
        sweeping_ = true;
        again_ = false;
        restart_ = false;
        cursor_ = 0;
        ++sweep_id_;
        sweep_started_ = now;
        next_safety_sweep_ = now + options_.relay_interval;
        claim_retry_at_ = {};
    }
    if (!sweeping_ || now < claim_retry_at_ || relayed_.size() >= options_.relay_batch) return std::nullopt;
    claim_in_flight_ = true;
    claim_sent_at_ = now;
    return claim_request{sweep_id_, cursor_, options_.relay_batch};
}

std::size_t relay_ledger::page_claimed(std::uint64_t sweep, std::vector<outbox::entry> entries,
                                       clock::time_point now) {
    if (sweep != sweep_id_ || !claim_in_flight_) return 0;
    retire(now);  // while the claim still counts as in flight: its page may hold a retiring job
    claim_in_flight_ = false;
    const bool full = entries.size() >= options_.relay_batch;
    if (full)
        cursor_ = entries.back().seq;
    else
        sweeping_ = backlog_ = false;
    std::size_t fresh = 0;
    for (const auto& e : entries) {
        if (pauses_.paused(std::string(model::to_string(e.job.type)))) continue;
        const auto [it, added] = known_.try_emplace(model::job_attempt{e.job.uuid, e.job.attempt},
                                                    known_job{false, claim_sent_at_});
        if (!added) {
            // Held already: the page renewed its claim too.
            if (!it->second.retiring) it->second.claimed_at = std::max(it->second.claimed_at, claim_sent_at_);
            continue;
        }
        relayed_.push_back(make_job_message(e.job));
        ++fresh;
    }
    // A full page of jobs held already (the hand-over's own) says nothing about a backlog.
    if (full && fresh > 0) {
        backlog_ = true;
        backlog_edge_ms_ = entries.back().job.created_ms;
    }
    return fresh;
}

void relay_ledger::claim_failed(std::uint64_t sweep, clock::time_point now) {
    if (sweep != sweep_id_ || !claim_in_flight_) return;
    claim_in_flight_ = false;
    claim_retry_at_ = now + options_.retry_delay;
}

std::optional<std::vector<std::string>> relay_ledger::next_renewal(clock::time_point now) {
    if (!connected_ || now < next_renewal_) return std::nullopt;
    next_renewal_ = now + options_.relay_interval / 2;
    std::vector<std::string> held;  // a claim is the job's, whatever its attempt
    held.reserve(known_.size());
    for (const auto& [key, k] : known_)
        if (!k.retiring) held.push_back(key.uuid);
    std::sort(held.begin(), held.end());
    held.erase(std::unique(held.begin(), held.end()), held.end());
    return held;
}

std::size_t relay_ledger::renewed(const std::vector<std::string>& asked,
                                  const std::vector<std::string>& renewed, clock::time_point sent_at) {
    // Claims are the jobs', so each answer counts for every attempt of its uuid held.
    const std::unordered_set<std::string_view> was_renewed(renewed.begin(), renewed.end());
    const std::unordered_set<std::string_view> was_asked(asked.begin(), asked.end());
    std::size_t lost = 0;
    for (auto& [key, k] : known_) {
        if (k.retiring) continue;
        if (was_renewed.contains(key.uuid)) k.claimed_at = std::max(k.claimed_at, sent_at);
        // Renewed just now, or claimed again by a page asked for after this renewal.
        if (!was_asked.contains(key.uuid) || k.claimed_at >= sent_at ||
            k.claimed_at == clock::time_point::min())
            continue;
        k.claimed_at = clock::time_point::min();
        ++lost;
    }
    return lost;
}

relay_ledger::clock::time_point relay_ledger::next_deadline() const noexcept {
    auto at = std::min(pauses_.next_deadline(), next_renewal_);
    if (!connected_ || claim_in_flight_) return at;
    if (restart_) return clock::time_point::min();
    // A page can be claimed once the relayed queue has room (after sends, which confirms wake
    // up) and any claim retry is due; the past when nothing holds it back.
    if (sweeping_) return relayed_.size() >= options_.relay_batch ? at : std::min(at, claim_retry_at_);
    if (again_) return clock::time_point::min();
    return std::min(at, next_safety_sweep_);
}

void relay_ledger::retire(clock::time_point now) {
    // A claim asked before a mark was answered may have read the row before the mark committed;
    // however late its page comes, the marked jobs on it stay known until it has.
    const auto page_may_hold = [&](clock::time_point marked_at) {
        return claim_in_flight_ && marked_at >= claim_sent_at_;
    };
    while (!retiring_.empty() && now - retiring_.front().first >= options_.retire_after &&
           !page_may_hold(retiring_.front().first)) {
        for (const auto& p : retiring_.front().second) forget({p.uuid, p.attempt});
        retiring_.pop_front();
    }
}

}  // namespace jobsd::queue

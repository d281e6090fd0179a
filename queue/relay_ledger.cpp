// Sweeps are numbered: each start (and each disconnect) takes a new number, and a claim's
// answer counts only for the sweep it was made for.
#include "queue/relay_ledger.hpp"

namespace jobsd::queue {

relay_ledger::options relay_ledger::options::from(const amqp_options& o) {
    options out;
    out.send_queue_max = o.publish_queue_max;
    out.relay_batch = o.relay_batch;
    out.relay_interval = o.relay_interval;
    out.retry_delay = o.retry_delay;
    return out;
}

relay_ledger::relay_ledger(options o) : options_(o) {}

void relay_ledger::connected(clock::time_point now) {
    connected_ = true;
    again_ = true;
    next_safety_sweep_ = now + options_.relay_interval;
}

void relay_ledger::disconnected(const std::vector<job_message>& unconfirmed) {
    for (const auto& m : unconfirmed) forget(m.uuid);
    for (const auto& m : fresh_) forget(m.uuid);
    for (const auto& m : relayed_) forget(m.uuid);
    for (const auto& [at, m] : retry_) forget(m.uuid);
    fresh_.clear();
    relayed_.clear();
    retry_.clear();
    connected_ = false;
    sweeping_ = false;
    claim_in_flight_ = false;
    ++sweep_id_;
}

std::size_t relay_ledger::hand_over_room() const noexcept {
    return fresh_.size() < options_.send_queue_max ? options_.send_queue_max - fresh_.size() : 0;
}

bool relay_ledger::hand_over(const model::job& job, clock::time_point handed_at, clock::time_point now) {
    if (now - handed_at >= options_.retire_after / 2) {
        again_ = true;
        return false;
    }
    if (!known_.insert(job.uuid).second) return false;
    fresh_.push_back(make_job_message(job));
    return true;
}

std::size_t relay_ledger::release_retries(clock::time_point now) {
    std::size_t n = 0;
    while (!retry_.empty() && retry_.front().first <= now) {
        fresh_.push_back(std::move(retry_.front().second));
        retry_.pop_front();
        ++n;
    }
    return n;
}

job_message relay_ledger::pop_next() {
    auto& from = relayed_first() ? relayed_ : fresh_;
    job_message m = std::move(from.front());
    from.pop_front();
    return m;
}

void relay_ledger::failed(std::vector<job_message> messages, clock::time_point now) {
    for (auto& m : messages) retry_.emplace_back(now + options_.retry_delay, std::move(m));
}

void relay_ledger::marked(const std::vector<std::string>& uuids, bool ok, clock::time_point now) {
    if (ok) {
        retiring_.emplace_back(now, uuids);
    } else {
        for (const auto& u : uuids) forget(u);
        again_ = true;
    }
    retire(now);
}

std::optional<relay_ledger::claim_request> relay_ledger::next_claim(clock::time_point now) {
    if (!connected_ || claim_in_flight_) return std::nullopt;
    const bool start = sweeping_ ? again_ && now - sweep_started_ >= options_.relay_interval
                                 : again_ || now >= next_safety_sweep_;
    if (start) {
        sweeping_ = true;
        again_ = false;
        cursor_ = 0;
        ++sweep_id_;
        sweep_started_ = now;
        next_safety_sweep_ = now + options_.relay_interval;
        claim_retry_at_ = {};
    }
    if (!sweeping_ || now < claim_retry_at_ || relayed_.size() >= options_.relay_batch) return std::nullopt;
    claim_in_flight_ = true;
    return claim_request{sweep_id_, cursor_, options_.relay_batch};
}

std::size_t relay_ledger::page_claimed(std::uint64_t sweep, std::vector<outbox::entry> entries,
                                       clock::time_point now) {
    if (sweep != sweep_id_ || !claim_in_flight_) return 0;
    claim_in_flight_ = false;
    retire(now);
    if (entries.size() < options_.relay_batch)
        sweeping_ = false;
    else
        cursor_ = entries.back().seq;
    std::size_t fresh = 0;
    for (const auto& e : entries)
        if (known_.insert(e.job.uuid).second) {
            relayed_.push_back(make_job_message(e.job));
            ++fresh;
        }
    return fresh;
}

void relay_ledger::claim_failed(std::uint64_t sweep, clock::time_point now) {
    if (sweep != sweep_id_ || !claim_in_flight_) return;
    claim_in_flight_ = false;
    claim_retry_at_ = now + options_.retry_delay;
}

relay_ledger::clock::time_point relay_ledger::next_deadline() const noexcept {
    auto at = clock::time_point::max();
    if (!retry_.empty()) at = retry_.front().first;
    if (!connected_ || claim_in_flight_) return at;
    // A page can be claimed once the relayed queue has room (after sends, which confirms wake
    // up) and any claim retry is due; the past when nothing holds it back.
    if (sweeping_) return relayed_.size() >= options_.relay_batch ? at : std::min(at, claim_retry_at_);
    if (again_) return clock::time_point::min();
    return std::min(at, next_safety_sweep_);
}

void relay_ledger::retire(clock::time_point now) {
    while (!retiring_.empty() && now - retiring_.front().first >= options_.retire_after) {
        for (const auto& u : retiring_.front().second) forget(u);
        retiring_.pop_front();
    }
}

}  // namespace jobsd::queue

// Reads are numbered by connection generation: an answer that outlived its connection is dropped,
// since the read after the next connect covers the same messages.
#include "queue/control_ledger.hpp"

namespace jobsd::queue {

void control_ledger::connected(clock::time_point now) {
    connected_ = true;
    next_read_ = now;
}

void control_ledger::disconnected(const std::vector<std::int64_t>& unconfirmed) {
    for (auto seq : unconfirmed) known_.erase(seq);
    for (const auto& e : waiting_) known_.erase(e.seq);
    waiting_.clear();
    connected_ = false;
    reading_ = false;
    ++generation_;
}

bool control_ledger::start_read(clock::time_point now) {
    if (!connected_ || reading_ || (!poked_ && now < next_read_)) return false;
    reading_ = true;
    poked_ = false;
    read_generation_ = generation_;
    return true;
}

std::size_t control_ledger::read_done(bool ok, std::vector<control_outbox::entry> entries,
                                      clock::time_point now) {
    if (!reading_ || read_generation_ != generation_) return 0;
    reading_ = false;
    next_read_ = now + poll_interval_;
    if (!ok) return 0;
    std::size_t added = 0;
    for (auto& e : entries)
        if (known_.insert(e.seq).second) {
            waiting_.push_back(std::move(e));
            ++added;
        }
    return added;
}

control_outbox::entry control_ledger::pop_next() {
    auto e = std::move(waiting_.front());
    waiting_.pop_front();
    return e;
}

void control_ledger::failed(const std::vector<std::int64_t>& seqs) {
    for (auto seq : seqs) known_.erase(seq);
}

void control_ledger::removed(const std::vector<std::int64_t>& seqs) {
    for (auto seq : seqs) known_.erase(seq);
}

control_ledger::clock::time_point control_ledger::next_deadline() const noexcept {
    if (!connected_ || reading_) return clock::time_point::max();
    return poked_ ? clock::time_point::min() : next_read_;
}

}  // namespace jobsd::queue

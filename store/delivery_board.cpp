// The in-memory hand-over of webhook deliveries on a store with no sharing: ready by destination,
// held while the dispatcher sends them, swept from the table when memory may not know everything.
#include "store/delivery_board.hpp"

#include <algorithm>

namespace jobsd::store {

void delivery_board::insert(const board_entry& e) {
    if (held_seqs_.contains(e.seq)) return;
    if (ready_count_ >= ready_max) {
        overflowed_ = true;
        return;
    }
    if (ready_[e.dest].insert(e.seq).second) ++ready_count_;
}

void delivery_board::add(const std::vector<board_entry>& entries) {
    for (const auto& e : entries) insert(e);
}

bool delivery_board::sweep_due(std::int64_t now_ms) {
    const auto per_rows = static_cast<std::int64_t>(1 + ready_count_ / busy_sweep_rows);
    const std::int64_t interval = ready_count_ == 0 ? idle_sweep_ms : busy_sweep_ms * per_rows;
    // Left behind for want of room: swept again once half the room is free.
    const bool room = overflowed_ && ready_count_ < ready_max / 2;
    if (!sweep_now_ && !room && now_ms < retry_due_ms_ && now_ms - last_sweep_ms_ < interval) return false;
    sweep_now_ = false;
    overflowed_ = false;
    last_sweep_ms_ = now_ms;
    return true;
}

std::size_t delivery_board::sweep_limit(std::size_t wanted) const {
    return std::min(ready_count_ + held_seqs_.size() + std::max<std::size_t>(wanted, 1'024), 2 * ready_max);
}

void delivery_board::swept(const std::vector<board_entry>& rows, std::size_t limit, std::int64_t now_ms) {
    add(rows);
    if (rows.size() >= limit && !overflowed_) sweep_now_ = true;
    if (retry_due_ms_ <= now_ms) retry_due_ms_ = std::numeric_limits<std::int64_t>::max();
}

void delivery_board::retry_at(std::int64_t next_ms) noexcept {
    retry_due_ms_ = std::min(retry_due_ms_, next_ms);
}

std::vector<std::int64_t> delivery_board::pick(const claim_request& r) {
    struct candidate {
        std::int64_t seq;
        std::set<std::int64_t>* from;
    };
    std::vector<candidate> candidates;
    for (auto& [dest, seqs] : ready_) {
        if (std::find(r.skip.begin(), r.skip.end(), dest) != r.skip.end()) continue;
        std::size_t n = 0;
        for (auto it = seqs.begin(); it != seqs.end() && n < r.per_dest; ++it, ++n)
            candidates.push_back({*it, &seqs});
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const candidate& a, const candidate& b) { return a.seq < b.seq; });
    if (candidates.size() > r.limit) candidates.resize(r.limit);
    std::vector<std::int64_t> out;
    out.reserve(candidates.size());
    for (const auto& c : candidates) {
        c.from->erase(c.seq);
        --ready_count_;
        held_seqs_.insert(c.seq);
        out.push_back(c.seq);
    }
    std::erase_if(ready_, [](const auto& kv) { return kv.second.empty(); });
    return out;
}

void delivery_board::claimed(const std::vector<std::int64_t>& picked,
                             const std::vector<std::pair<std::int64_t, std::string>>& ids) {
    std::unordered_set<std::int64_t> read;
    for (const auto& [seq, id] : ids) {
        held_ids_[id] = seq;
        read.insert(seq);
    }
    for (auto seq : picked)
        if (!read.contains(seq)) held_seqs_.erase(seq);
}

void delivery_board::unpick(const std::vector<std::int64_t>& picked) {
    for (auto seq : picked) held_seqs_.erase(seq);
    sweep_now_ = true;
}

void delivery_board::release(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        auto it = held_ids_.find(id);
        if (it == held_ids_.end()) continue;
        held_seqs_.erase(it->second);
        held_ids_.erase(it);
    }
}

std::size_t delivery_board::release_all() {
    const std::size_t n = held_seqs_.size();
    held_seqs_.clear();
    held_ids_.clear();
    sweep_now_ = true;
    return n;
}

}  // namespace jobsd::store

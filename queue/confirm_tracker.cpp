// Tags are contiguous per channel, so an entry is found by offset; settled entries are
// dropped from the front as soon as everything before them is settled too.
#include "queue/confirm_tracker.hpp"

namespace jobsd::queue {

std::uint64_t confirm_tracker::on_publish(job_message msg) {
    entries_.push_back({std::move(msg)});
    ++outstanding_;
    return first_tag_ + entries_.size() - 1;
}

void confirm_tracker::on_return(std::string_view message_id) {
    // The newest matching unsettled entry: a message returned is one just published.
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
        if (!it->settled && it->msg.uuid == message_id) {
            it->returned = true;
            return;
        }
}

void confirm_tracker::settle_one(entry& e, bool nack, settled& out) {
    if (e.settled) return;
    e.settled = true;
    --outstanding_;
    (nack || e.returned ? out.failed : out.confirmed).push_back(std::move(e.msg));
}

confirm_tracker::settled confirm_tracker::settle(std::uint64_t tag, bool multiple, bool nack) {
    settled out;
    if (tag < first_tag_ || tag >= first_tag_ + entries_.size()) return out;  // unknown or already settled
    const std::size_t index = tag - first_tag_;
    if (multiple)
        for (std::size_t i = 0; i <= index; ++i) settle_one(entries_[i], nack, out);
    else
        settle_one(entries_[index], nack, out);
    while (!entries_.empty() && entries_.front().settled) {
        entries_.pop_front();
        ++first_tag_;
    }
    return out;
}

std::vector<job_message> confirm_tracker::reset() {
    std::vector<job_message> out;
    for (auto& e : entries_)
        if (!e.settled) out.push_back(std::move(e.msg));
    entries_.clear();
    first_tag_ = 1;
    outstanding_ = 0;
    return out;
}

}  // namespace jobsd::queue

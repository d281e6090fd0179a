// The writer's side of the webhook hand-over: an append or a swap under a mutex of its own.
#include "store/delivery_inbox.hpp"

#include <iterator>
#include <utility>

namespace jobsd::store {

void delivery_inbox::put(std::vector<board_entry>&& fresh) {
    std::lock_guard lock(mutex_);
    if (entries_.size() + fresh.size() > max_) {
        overflowed_ = true;
    } else if (entries_.empty()) {
        entries_.swap(fresh);
    } else {
        entries_.insert(entries_.end(), std::make_move_iterator(fresh.begin()),
                        std::make_move_iterator(fresh.end()));
    }
}

delivery_inbox::taken delivery_inbox::take() {
    taken out;
    std::lock_guard lock(mutex_);
    out.entries.swap(entries_);
    std::swap(out.overflowed, overflowed_);
    return out;
}

}  // namespace jobsd::store

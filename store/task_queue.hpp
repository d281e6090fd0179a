// A bounded multi-producer queue of move-only items for the store's own threads.
// Thread safety: all members are safe to call concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

namespace jobsd::store {

template <class T>
class task_queue {
  public:
    explicit task_queue(std::size_t max_size) : max_size_(max_size) {}

    enum class push_result { ok, full, closed };

    // Takes the item only when it returns ok; otherwise `item` is left with the caller.
    push_result push(T&& item) {
        {
            std::lock_guard lock(mu_);
            if (closed_) return push_result::closed;
            if (items_.size() >= max_size_) return push_result::full;
            items_.push_back(std::move(item));
        }
        cv_.notify_one();
        return push_result::ok;
    }

    // Blocks until at least one item is queued (or the queue is closed and empty, then returns
    // an empty batch). With `linger` > 0 it then waits up to that long for the batch to fill.
    std::vector<T> pop_batch(std::size_t max_items, std::chrono::microseconds linger) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
        if (linger.count() > 0 && !closed_)
            cv_.wait_for(lock, linger, [&] { return closed_ || items_.size() >= max_items; });
        std::vector<T> out;
        const std::size_t n = std::min(max_items, items_.size());
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            out.push_back(std::move(items_.front()));
            items_.pop_front();
        }
        return out;
    }

    // Takes out every queued item `pred` holds for (in queue order) and returns them.
    template <class Pred>
    std::vector<T> remove_if(Pred pred) {
        std::vector<T> out;
        std::lock_guard lock(mu_);
        for (auto it = items_.begin(); it != items_.end();) {
            if (pred(*it)) {
                out.push_back(std::move(*it));
                it = items_.erase(it);
            } else {
                ++it;
            }
        }
        return out;
    }

    // After close, push fails and pop_batch drains what is left, then returns empty batches.
    void close() {
        {
            std::lock_guard lock(mu_);
            closed_ = true;
        }
        cv_.notify_all();
    }

    std::size_t size() const {
        std::lock_guard lock(mu_);
        return items_.size();
    }

  private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<T> items_;  // guarded by mu_
    bool closed_ = false;  // guarded by mu_
    const std::size_t max_size_;
};

}  // namespace jobsd::store

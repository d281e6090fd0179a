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
            if (returning_ > 0 && items_.size() <= run_max_) return push_result::ok;
            if (!sleepers_.empty()) {
                sleeper* s = sleepers_.back();  // the last to fall asleep: its caches are the warmest
                sleepers_.pop_back();
                s->woken = true;
                ++returning_;  // until it runs: more pushes meanwhile are its to take, not another's
                s->cv.notify_one();
                return push_result::ok;
            }
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

    // Blocks like pop_batch, then takes the first item and, while `joins` holds for it and the
    // next, up to `max_items` in all (no linger): a run of items that may share one pass.
    // `returning` is the consumer's own flag, false before its first call: a consumer with a run
    // of joining items is back within that run's time, so a push leaves the other consumers
    // asleep (unless more than a run is queued) and the one awake takes the item, not a thread
    // woken for it. A consumer with any other item may be held up by it, and pushes wake others.
    template <class Joins>
    std::vector<T> pop_run(std::size_t max_items, Joins joins, bool& returning) {
        std::unique_lock lock(mu_);
        if (returning) --returning_;
        returning = false;
        while (!closed_ && items_.empty()) {
            sleeper me;
            sleepers_.push_back(&me);
            me.cv.wait(lock, [&] { return me.woken; });
            --returning_;
        }
        std::vector<T> out;
        if (items_.empty()) return out;
        do {
            out.push_back(std::move(items_.front()));
            items_.pop_front();
        } while (out.size() < max_items && !items_.empty() && joins(out.front()) && joins(items_.front()));
        if (joins(out.front())) {
            returning = true;
            ++returning_;
            run_max_ = max_items;
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
            for (sleeper* s : sleepers_) {
                s->woken = true;
                ++returning_;
                s->cv.notify_one();
            }
            sleepers_.clear();
        }
        cv_.notify_all();
    }

    std::size_t size() const {
        std::lock_guard lock(mu_);
        return items_.size();
    }

    // Consumers asleep in pop_run.
    std::size_t sleeping() const {
        std::lock_guard lock(mu_);
        return sleepers_.size();
    }

  private:
    // A consumer asleep in pop_run, on its own stack; woken by taking it off sleepers_.
    struct sleeper {
        std::condition_variable cv;
        bool woken = false;  // guarded by mu_
    };

    mutable std::mutex mu_;
    std::condition_variable cv_;      // pop_batch's consumers wait here
    std::vector<sleeper*> sleepers_;  // guarded by mu_: pop_run's consumers, the last asleep last
    std::deque<T> items_;             // guarded by mu_
    bool closed_ = false;             // guarded by mu_
    std::size_t returning_ = 0;       // guarded by mu_: consumers bound to look again before sleeping:
                                      // in a run of joining items, or woken and not yet back
    std::size_t run_max_ = 0;         // guarded by mu_: the last pop_run's max_items
    const std::size_t max_size_;
};

}  // namespace jobsd::store

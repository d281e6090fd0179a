// Tasks never throw out of the pool: the runtime wraps handlers and catches.
#include "worker/job_pool.hpp"

#include <utility>

namespace jobsd::worker {

job_pool::job_pool(unsigned threads, std::size_t max_queued) : max_queued_(max_queued), seats_(threads) {
    threads_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this, me = &seats_[i]] { work(*me); });
    // Ready once every thread waits for work: the first tasks then go to the thread idle the
    // shortest time, not to whichever thread happens to start first.
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return sleepers_.size() == threads_.size(); });
}

job_pool::~job_pool() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        for (sleeper* s : sleepers_) {
            s->woken = true;
            s->cv.notify_one();
        }
        sleepers_.clear();
    }
    threads_.clear();  // joins
}

bool job_pool::post(std::function<void()> task, std::stop_token stop) {
    sleeper* wake = nullptr;
    {
        std::lock_guard lock(mu_);
        std::erase_if(queue_, [](const auto& q) { return q.second.stop_requested(); });
        if (queue_.size() >= max_queued_) return false;
        queue_.emplace_back(std::move(task), std::move(stop));
        wake = wake_one();
    }
    // Outside the lock, so the thread does not wake only to wait for it. Its sleeper is the pool's
    // (seats_), so it outlives every thread even if that one wakes before this notify.
    if (wake) wake->cv.notify_one();
    return true;
}

job_pool::sleeper* job_pool::wake_one() {
    if (waking_ || sleepers_.empty()) return nullptr;
    sleeper* s = sleepers_.back();  // the thread idle the shortest time: its stack and caches are warm
    sleepers_.pop_back();
    s->woken = true;
    waking_ = s;
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    return s;
}

bool job_pool::wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    return idle_cv_.wait_for(lock, limit, [&] { return queue_.empty() && running_ == 0; });
}

void job_pool::work(sleeper& me) {
    bool started = false;
    std::unique_lock lock(mu_);
    for (;;) {
        // Wakes on stop too; drains what is queued before leaving.
        while (queue_.empty() && !stopping_) {
            me.woken = false;
            sleepers_.push_back(&me);
            if (!std::exchange(started, true)) idle_cv_.notify_all();  // the constructor waits for it
            me.cv.wait(lock, [&] { return me.woken; });
            if (waking_ == &me) waking_ = nullptr;  // here (its task may be gone)
        }
        if (queue_.empty()) return;
        std::function<void()> task = std::move(queue_.front().first);
        queue_.pop_front();
        ++running_;
        sleeper* next = queue_.empty() ? nullptr : wake_one();
        lock.unlock();
        if (next) next->cv.notify_one();
        task();
        task = nullptr;  // its captures go before the lock is taken again
        lock.lock();
        --running_;
        if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
    }
}

}  // namespace jobsd::worker

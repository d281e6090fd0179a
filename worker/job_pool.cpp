// Tasks never throw out of the pool: the runtime wraps handlers and catches.
#include "worker/job_pool.hpp"

namespace jobsd::worker {

job_pool::job_pool(unsigned threads, std::size_t max_queued) : max_queued_(max_queued) {
    threads_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this](std::stop_token st) { work(st); });
}

job_pool::~job_pool() {
    for (auto& t : threads_) t.request_stop();
    cv_.notify_all();
    threads_.clear();  // joins
}

bool job_pool::post(std::function<void()> task, std::stop_token stop) {
    {
        std::lock_guard lock(mu_);
        std::erase_if(queue_, [](const auto& q) { return q.second.stop_requested(); });
        if (queue_.size() >= max_queued_) return false;
        queue_.emplace_back(std::move(task), std::move(stop));
    }
    cv_.notify_one();
    return true;
}

bool job_pool::wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    return idle_cv_.wait_for(lock, limit, [&] { return queue_.empty() && running_ == 0; });
}

void job_pool::work(std::stop_token stop) {
    for (;;) {
        std::function<void()> task;
        {
            std::unique_lock lock(mu_);
            // Wakes on stop too; drains what is queued before leaving.
            cv_.wait(lock, stop, [&] { return !queue_.empty(); });
            if (queue_.empty()) return;
            task = std::move(queue_.front().first);
            queue_.pop_front();
            ++running_;
        }
        task();
        {
            std::lock_guard lock(mu_);
            --running_;
            if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
        }
    }
}

}  // namespace jobsd::worker

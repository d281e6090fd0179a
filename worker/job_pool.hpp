// A fixed set of threads that run jobs, with a bounded queue in front of them. A task goes to
// the thread that has waited the shortest time (a few threads serve short jobs, their caches warm).
// One sleeping thread is woken at a time: while a woken thread is on its way, further tasks wait
// for it, and a thread that takes a task with more still queued wakes the next. A burst of short
// tasks then costs a few wake-ups (the first thread runs them one after the other while the next
// wakes) instead of one each; long tasks still each get a thread, one wake-up after the other.
// Thread safety: post() and idle() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

namespace jobsd::worker {

class job_pool {
  public:
    // `max_queued` bounds the tasks waiting for a thread; the runtime keeps at most prefetch
    // jobs of its own in flight, so the queue only fills when handlers ignore their stop token.
    // Returns once every thread has started and waits for work.
    job_pool(unsigned threads, std::size_t max_queued);
    // Runs what is queued, then joins: tasks must return (stop their jobs first).
    ~job_pool();
    job_pool(const job_pool&) = delete;
    job_pool& operator=(const job_pool&) = delete;

    // False when the queue is full (the task is not taken). A queued task whose `stop` has been
    // requested (a job released or lost before it began) is dropped, unrun, to make room.
    bool post(std::function<void()> task, std::stop_token stop = {});

    // Waits until no task is queued or running, at most `limit`; true when idle.
    bool wait_idle(std::chrono::milliseconds limit);

    // Sleeping threads woken to run a task, so far.
    std::uint64_t wakeups() const noexcept { return wakeups_.load(std::memory_order_relaxed); }

  private:
    // A thread's place to wait for a task (one per thread, the pool's); woken by being taken off
    // sleepers_.
    struct sleeper {
        std::condition_variable cv;
        bool woken = false;  // guarded by mu_
    };

    // The thread idle the shortest time, taken off sleepers_ to run a queued task; null when one
    // woken before has not taken its task yet, or none sleeps. mu_ held; notify outside it.
    sleeper* wake_one();
    void work(sleeper& me);

    const std::size_t max_queued_;
    std::mutex mu_;
    std::vector<sleeper*> sleepers_;  // guarded by mu_: the last asleep last
    bool stopping_ = false;           // guarded by mu_
    // Guarded by mu_: the thread woken for a queued task that has not woken yet (it clears this).
    sleeper* waking_ = nullptr;
    std::atomic<std::uint64_t> wakeups_{0};
    std::condition_variable idle_cv_;  // wakes wait_idle, and the constructor as threads start
    std::deque<std::pair<std::function<void()>, std::stop_token>> queue_;  // guarded by mu_
    std::size_t running_ = 0;                                              // guarded by mu_
    std::deque<sleeper> seats_;          // one per thread; outlives them (declared before threads_)
    std::vector<std::jthread> threads_;  // last: joined first
};

}  // namespace jobsd::worker

// A value read from somewhere slow (the store's reader threads, the broker) kept for a while, so
// operator views and scrapes cost one read per interval however often they are asked.
// Thread safety: all members may be called from any thread; a mutex guards the value. Only
// operator routes and /metrics use it, never the job path.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <utility>

namespace jobsd::server {

template <class T>
class timed_cache {
  public:
    using clock = std::chrono::steady_clock;

    explicit timed_cache(std::chrono::milliseconds ttl) : ttl_(ttl) {}

    // The value if it was stored less than the ttl before `now`. Two callers that both find it
    // stale both read anew; the later put wins, which is harmless for views of counters.
    std::optional<T> fresh(clock::time_point now = clock::now()) const {
        std::lock_guard lock(mutex_);
        if (!value_ || now - stored_at_ >= ttl_) return std::nullopt;
        return value_;
    }

    void put(T value, clock::time_point now = clock::now()) {
        std::lock_guard lock(mutex_);
        value_ = std::move(value);
        stored_at_ = now;
    }

  private:
    const std::chrono::milliseconds ttl_;
    mutable std::mutex mutex_;
    std::optional<T> value_;
    clock::time_point stored_at_{};
};

}  // namespace jobsd::server

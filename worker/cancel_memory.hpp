// The cancels a worker has heard of, so that a job cancelled before it arrives here is acked
// without being run: uuid → the highest cancelled attempt (that attempt and earlier ones are
// cancelled; a later one, a retry, runs). Bounded in size and in age: the oldest entries go
// first. Sans-I/O: time is passed in.
// Thread safety: none; owned by the worker's connection thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

namespace jobsd::worker {

class cancel_memory {
  public:
    using clock = std::chrono::steady_clock;

    cancel_memory(std::size_t max_entries, std::chrono::milliseconds max_age)
        : max_entries_(max_entries), max_age_(max_age) {}

    // Remembers that `attempt` (and every earlier attempt) of `uuid` is cancelled.
    void remember(const std::string& uuid, int attempt, clock::time_point now);
    // True when `attempt` of `uuid` was cancelled and is still remembered.
    bool cancelled(const std::string& uuid, int attempt, clock::time_point now);

    std::size_t size() const noexcept { return by_uuid_.size(); }

  private:
    struct entry {
        int attempt = 0;
        clock::time_point at;
    };
    void prune(clock::time_point now);

    const std::size_t max_entries_;
    const std::chrono::milliseconds max_age_;
    std::unordered_map<std::string, entry> by_uuid_;
    // Insertion order; an entry refreshed later appears again, and only its newest place counts.
    std::deque<std::pair<clock::time_point, std::string>> order_;
};

}  // namespace jobsd::worker

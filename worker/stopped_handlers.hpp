// Handlers asked to stop (their job timed out) that have not returned yet, with no I/O: one still
// running a second after its stop ignores it, and is reported once as abandoned (its pool thread
// stays busy until it returns). Time is passed in.
// Thread safety: none; owned by the worker's connection thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobsd::worker {

class stopped_handlers {
  public:
    using clock = std::chrono::steady_clock;

    // How long a handler may take to honour its stop before it counts as abandoned.
    static constexpr std::chrono::milliseconds abandon_after{1'000};

    // The handler running job `id` (`uuid`) was asked to stop at `now`.
    void stopped(std::uint64_t id, std::string uuid, clock::time_point now);
    // It returned; true when it had been reported abandoned (the caller may log its return).
    bool returned(std::uint64_t id);
    // The uuids of the handlers that became abandoned by `now`, each reported once.
    std::vector<std::string> abandoned(clock::time_point now);
    // When the next one would become abandoned; max() if none.
    clock::time_point next_deadline() const;
    // Handlers stopped and still running (abandoned or not).
    std::size_t running() const noexcept { return handlers_.size(); }
    std::string uuid(std::uint64_t id) const;

  private:
    struct entry {
        std::string uuid;
        clock::time_point asked;
        bool reported = false;
    };
    std::unordered_map<std::uint64_t, entry> handlers_;
};

}  // namespace jobsd::worker

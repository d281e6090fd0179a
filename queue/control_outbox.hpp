// What the control publisher needs from durable storage: the control messages waiting for the
// broker (cancel requests, committed with the change that caused them), and a way to drop the
// ones the broker confirmed. The server implements it over its store; queue/ knows no store.
//
// One style, as queue/outbox.hpp: both calls are asynchronous, never block their caller, and
// report a storage failure as the error_code passed to `done` (which may run on any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <system_error>
#include <vector>

#include "queue/control_message.hpp"

namespace jobsd::queue {

class control_outbox {
  public:
    struct entry {
        std::int64_t seq = 0;  // commit order
        control_message message;
    };

    virtual ~control_outbox() = default;

    // Waiting messages, oldest first, at most `limit`.
    virtual void list(std::size_t limit, std::function<void(std::error_code, std::vector<entry>)> done) = 0;
    // Drops confirmed messages.
    virtual void remove(std::vector<std::int64_t> seqs, std::function<void(std::error_code)> done) = 0;
};

}  // namespace jobsd::queue

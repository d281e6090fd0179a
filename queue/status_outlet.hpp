// Where a live status event goes beyond this process: to the session streams other jobsd
// instances serve. The notification hub (server/notification_hub.hpp) forwards through it; the
// status relay (queue/status_relay.hpp) is the one real outlet.
// Thread safety: every member may be called from any thread.
#pragma once

#include <string_view>

namespace jobsd::queue {

class status_outlet {
  public:
    virtual ~status_outlet() = default;

    // Another instance has a session stream open (it said so within the last few seconds).
    virtual bool listened_elsewhere() const noexcept = 0;
    // Sends one event on to the other instances. Never blocks; may drop when far behind.
    virtual void forward(std::string_view account_id, std::string_view session_id,
                         std::string_view event) = 0;
    // A stream opened here: tell the other instances now rather than at the next announcement.
    virtual void listening_here() noexcept = 0;
};

}  // namespace jobsd::queue

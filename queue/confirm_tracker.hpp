// Publisher confirms bookkeeping, with no I/O: which published messages the broker has
// accepted, refused (basic.nack) or returned as unroutable (basic.return before the ack).
// Thread safety: none; owned by the publisher thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

#include "queue/job_message.hpp"

namespace jobsd::queue {

class confirm_tracker {
  public:
    struct settled {
        std::vector<job_message> confirmed;  // the broker has them
        std::vector<job_message> failed;     // nacked or returned: send again
    };

    // Records a publish and returns its delivery tag (1, 2, 3… per channel).
    std::uint64_t on_publish(job_message msg);

    // basic.return of the message with this id: its coming ack must count as a failure.
    void on_return(std::string_view message_id);

    // basic.ack / basic.nack; `multiple` settles every outstanding tag up to `tag`.
    settled on_ack(std::uint64_t tag, bool multiple) { return settle(tag, multiple, false); }
    settled on_nack(std::uint64_t tag, bool multiple) { return settle(tag, multiple, true); }

    // The channel is gone: every unsettled message, oldest first; tags start again at 1.
    std::vector<job_message> reset();

    std::size_t outstanding() const noexcept { return outstanding_; }

  private:
    struct entry {
        job_message msg;
        bool returned = false;
        bool settled = false;
    };

    settled settle(std::uint64_t tag, bool multiple, bool nack);
    void settle_one(entry& e, bool nack, settled& out);

    std::deque<entry> entries_;  // entries_[i] has tag first_tag_ + i
    std::uint64_t first_tag_ = 1;
    std::size_t outstanding_ = 0;
};

}  // namespace jobsd::queue

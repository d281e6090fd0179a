// What the publisher needs from durable storage: the unpublished jobs, and a way to mark
// them published. The server implements it over its store; queue/ knows no store.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/job.hpp"

namespace jobsd::queue {

class outbox {
  public:
    struct entry {
        std::int64_t seq = 0;  // commit order
        model::job job;
    };

    virtual ~outbox() = default;

    // Unpublished jobs with seq > after_seq, oldest first, claimed for this instance: when
    // several instances share the outbox, one that claimed a job holds it for a lease (renewed
    // by claiming again) and the others do not get it meanwhile. Blocking: called only on the
    // publisher's own thread. Throws on a storage failure.
    virtual std::vector<entry> claim(std::int64_t after_seq, std::size_t limit) = 0;

    // Marks confirmed jobs published. Asynchronous; `done(ok)` may run on any thread.
    virtual void mark_published(std::vector<std::string> uuids, std::function<void(bool ok)> done) = 0;
};

}  // namespace jobsd::queue

// What the publisher needs from durable storage: the unpublished jobs, and a way to mark
// them published. The server implements it over its store; queue/ knows no store.
//
// One style: both calls are asynchronous and never block their caller; `done` may run on any
// thread (the publisher turns each answer into a message to its own thread). A storage failure
// is a value, the error_code passed to `done`, never an exception.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
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

    // Unpublished jobs with seq > after_seq, oldest first, at most `limit`, claimed for this
    // instance: when several instances share the outbox, one that claimed a job holds it for a
    // lease (renewed by claiming again) and the others do not get it meanwhile.
    virtual void claim(std::int64_t after_seq, std::size_t limit,
                       std::function<void(std::error_code, std::vector<entry>)> done) = 0;

    // Marks confirmed jobs published.
    virtual void mark_published(std::vector<std::string> uuids,
                                std::function<void(std::error_code)> done) = 0;
};

}  // namespace jobsd::queue

// What the publisher needs from durable storage: the unpublished jobs, and a way to mark
// them published. The server implements it over its store; queue/ knows no store.
//
// One style: both calls are asynchronous and never block their caller; `done` may run on any
// thread (the publisher turns each answer into a message to its own thread). A storage failure
// is a value, the error_code passed to `done`, never an exception.
#pragma once

#include <chrono>
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

    // Marks the confirmed attempts published. A job retried since (same uuid, a later attempt)
    // stays unpublished: its new attempt has yet to be sent.
    virtual void mark_published(std::vector<model::job_attempt> published,
                                std::function<void(std::error_code)> done) = 0;

    // Renews this instance's claims on jobs the publisher still holds, so another instance does
    // not take them over while they wait to be sent or confirmed. `done` gets the uuids whose
    // claims were renewed: a missing one was published or taken over by another instance (its
    // lease lapsed), and must not be sent. Without leases, done at once with every uuid.
    virtual void renew(std::vector<std::string> uuids,
                       std::function<void(std::error_code, std::vector<std::string>)> done) = 0;

    // How long a claim holds, from the start of the request that made it (a create, a claim or
    // a renewal); zero when there are no leases (one instance). The publisher never sends a job
    // whose claim may have lapsed: another instance may be publishing it.
    virtual std::chrono::milliseconds claim_lease() const noexcept = 0;
};

}  // namespace jobsd::queue

// What every store adapter reads, whatever its database: the group-commit batch, the bounds on
// queued work, the idempotency window and the retry policy. Each adapter's own settings live beside it.
#pragma once

#include <chrono>
#include <cstddef>

#include "model/lifecycle_policy.hpp"

namespace jobsd::store {

struct store_options {
    // Most write operations in one transaction (one SQLite BEGIN … COMMIT, one PostgreSQL
    // pipeline). Bounds how long one commit holds the write lock and how much one failed commit
    // has to answer for; 1024 jobs is a few hundred KiB of WAL.
    std::size_t batch_max = 1024;
    // Bound on queued writes; past it every write fails fast with store_errc::busy (new jobs
    // get 503), and store_stats carries it so readiness can tell the queue is full. 65536 jobs
    // of about 1 KiB each bound the memory a stalled disk or database can make jobsd hold.
    std::size_t write_queue_max = 65536;
    // Bound on queued reads; past it reads fail fast with store_errc::busy. The same as the
    // write bound: a queued read holds no more memory than a queued write.
    std::size_t read_queue_max = 65536;
    // How long an Idempotency-Key holds: within it a repeat finds the first job (and replays
    // it); after it the old job gives the key up and a repeat creates anew. 24 hours lets a
    // client retry across a long outage while the key index keeps only recent keys.
    std::chrono::milliseconds idempotency_window{24 * 3600 * 1000};
    // Automatic retries (attempts and backoff per job type), applied to retryable FAILED events
    // inside the store's transaction (model::decide_event).
    model::lifecycle_policy lifecycle;
};

}  // namespace jobsd::store

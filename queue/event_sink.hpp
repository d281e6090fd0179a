// Where consumed status events go: the server applies them to its store and notifies clients.
#pragma once

#include <vector>

#include "model/job_event.hpp"

namespace jobsd::queue {

class event_sink {
  public:
    virtual ~event_sink() = default;

    // Applies a batch durably, in order. Blocking: called only on the consumer's own thread.
    // False when it could not (the batch is then delivered again later).
    virtual bool apply(std::vector<model::job_event> events) = 0;
};

}  // namespace jobsd::queue
